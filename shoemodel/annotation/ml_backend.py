"""A Label Studio ML backend serving WD pre-annotations (and SAM masks on a prompt), bound to 127.0.0.1.

Label Studio users get model help through an "ML backend": a small HTTP server Label Studio calls.
The `label-studio-ml` package pins Flask 1.1 / Werkzeug 2.0, which cannot live beside the Label Studio
we install, so this module speaks the same protocol with the standard library:

- GET  /health  -> {"status": "UP", "model_class", "model_version"}
- POST /setup   {project, schema, hostname, access_token, extra_params} -> {"model_version"}
- POST /predict {tasks, project, label_config, params: {context}} -> {"results": [one prediction per task]}
- POST /webhook {action, ...} (Label Studio sends every project event) -> {"status": "ok"}

Each prediction is a brush result made by `brush.mask_to_results` (the same encoding rounds export),
with `model_version` = the WD checkpoint's step and content hash, so the round that used it is known.
Label Studio asks /setup before predicting; a checkpoint that changed on disk (`dvc repro train_wd`
after a round) is reloaded then, so round N+1 is pre-annotated by the WD trained on rounds <= N.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.annotation.brush import mask_to_results
from shoemodel.annotation.config import MLBackendConfig
from shoemodel.annotation.labeling import LABELS
from shoemodel.annotation.predictor import (
    photo_input,
    predict,
    record_input,
    uncertainty,
    wd_checkpoint,
    wd_model_version,
)
from shoemodel.schemas.classes import BACKGROUND, VISIBLE

log = logging.getLogger(__name__)
MODEL_CLASS = "shoemodel.WD"


class BackendModel:
    """The models behind the server: the WD (reloaded when its checkpoint changes) and an optional SAM."""

    def __init__(self, cfg: MLBackendConfig):
        self.cfg = cfg
        self._lock = threading.Lock()
        self._wd: Any = None
        self._version = ""
        self._sam: Any = None
        self.hostname = ""
        self.access_token = ""
        self.events: Counter[str] = Counter()
        self.refresh()

    @property
    def model_version(self) -> str:
        return self._version

    def refresh(self) -> str:
        """Load the WD again when the checkpoint on disk is not the one in memory; returns the version."""
        version = wd_model_version(self.cfg.checkpoint)
        with self._lock:
            if version != self._version or self._wd is None:
                self._wd = wd_checkpoint(self.cfg.checkpoint, device=self.cfg.device or None)
                self._version = version
                log.info("WD %s loaded from %s", version, self.cfg.checkpoint)
        return self._version

    def sam(self) -> Any:
        if self._sam is None and self.cfg.sam_checkpoint:
            from shoemodel.models.sam import load_sam

            self._sam = load_sam(self.cfg.sam_checkpoint, device=self.cfg.device or "cpu")
        return self._sam

    # ---- images ----
    def task_images(self, tasks: list[dict[str, Any]], predictor: Any = None,
                    photo_only: bool = False) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        """(image, content) per task: what WD reads (`predictor.record_input`), or with `photo_only` the photo
        the annotator sees, which SAM prompts point at. From the pool by record id, else from the task's photo
        fetched from Label Studio (`photo_input`)."""
        from shoemodel.annotation.pool import iter_pool
        from shoemodel.schemas.records import decode_image

        want = {t["data"].get("record_id"): t["id"] for t in tasks if t.get("data", {}).get("record_id")}
        images: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        if want and self.cfg.pool and Path(self.cfg.pool).exists():
            columns = ["id", "image"] if photo_only else ["id", "image", "shoe_image"]
            for rec in iter_pool(self.cfg.pool, set(want), columns=columns):
                images[want[rec["id"]]] = ((decode_image(rec["image"], "RGB", "image", rec["id"]), None) if photo_only
                                           else record_input(predictor, rec))
        for t in tasks:
            if t["id"] not in images:
                photo = self.task_photo(t)
                images[t["id"]] = (photo, None) if photo_only else photo_input(predictor, photo)
        return images

    def task_photo(self, task: dict[str, Any]) -> np.ndarray:
        """The photo of a task without a pool record: the file named by `data.photo_path` when it is on this machine
        (shoe-leg review tasks; the backend runs beside Label Studio), else fetched by its URL."""
        from shoemodel.schemas.records import decode_image

        path = task.get("data", {}).get("photo_path")
        if path and Path(path).is_file():
            return decode_image(Path(path).read_bytes(), "RGB", "image", path)
        return self.fetch_image(task.get("data", {}).get("image", ""))

    def fetch_image(self, url: str) -> np.ndarray:
        """A task image by its URL (relative URLs are Label Studio's: the host and token come from /setup)."""
        from shoemodel.schemas.records import decode_image

        if not url:
            raise ValueError("task has neither data.record_id in the pool nor data.image")
        full = urllib.parse.urljoin(self.hostname.rstrip("/") + "/", url) if url.startswith("/") else url
        headers = {"Authorization": f"Token {self.access_token}"} if self.access_token else {}
        with urllib.request.urlopen(urllib.request.Request(full, headers=headers), timeout=self.cfg.timeout_s) as r:
            return decode_image(r.read(), "RGB", "image", full)

    # ---- predictions ----
    def predict_tasks(self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One prediction per task, in order: a SAM mask when the context holds a prompt and SAM is loaded, else WD."""
        from shoemodel.curation.review_tasks import is_review_task, prompt_side

        with self._lock:
            wd, version = self._wd, self._version
        prompts = prompt_of(context)
        use_sam = prompts is not None and self.sam() is not None
        side = prompt_side(context)  # a prompt from the shoe-leg review tools: the answer is that shoe's brush
        if not use_sam and tasks and all(is_review_task(t) for t in tasks):
            return [{"result": [], "model_version": version} for _ in tasks]  # review tasks carry their prediction
        images = self.task_images(tasks, wd, photo_only=use_sam)
        out = []
        for task in tasks:
            image, content = images[task["id"]]
            if use_sam:
                out.append(self.sam_prediction(image, *prompts) if side is None
                           else self.sam_review_prediction(image, side, *prompts[1:]))
                continue
            mask, probs = predict(wd, image, content)
            score = 1.0 - uncertainty(probs, mask > 0) if probs is not None else None
            out.append({"result": mask_to_results(mask), "score": score, "model_version": version})
        return out

    def sam_prediction(self, image: np.ndarray, label: int, points: np.ndarray | None, point_labels: np.ndarray | None,
                       box: np.ndarray | None) -> dict[str, Any]:
        """SAM's mask for the keypoint (positive / negative) and box prompts, painted with the prompt's label."""
        sam = self.sam()
        sam.set_image(image)
        masks, scores = sam.predict(boxes=box[None] if box is not None else None,
                                    points=points[None] if points is not None else None,
                                    labels=point_labels[None] if points is not None else None)
        mask = np.where(masks[0], label, BACKGROUND).astype(np.uint8)
        return {"result": mask_to_results(mask), "score": float(scores[0]), "model_version": f"sam:{sam.version}"}

    def sam_review_prediction(self, image: np.ndarray, side: str, points: np.ndarray | None,
                              point_labels: np.ndarray | None, box: np.ndarray | None) -> dict[str, Any]:
        """SAM's mask for a shoe-leg review prompt, as that shoe's brush (`curation.review_tasks`)."""
        from shoemodel.curation.review_tasks import brush_result

        sam = self.sam()
        sam.set_image(image)
        masks, scores = sam.predict(boxes=box[None] if box is not None else None,
                                    points=points[None] if points is not None else None,
                                    labels=point_labels[None] if points is not None else None)
        mask = np.asarray(masks[0], bool)
        return {"result": [brush_result(mask, side)] if mask.any() else [], "score": float(scores[0]),
                "model_version": f"sam:{sam.version}"}


def prompt_of(context: dict[str, Any] | None) -> tuple[int, np.ndarray | None, np.ndarray | None, np.ndarray | None] | None:
    """(label, points (P, 2), point labels (P,) 1 positive / 0 negative, box (4,)) in pixels from Label Studio's
    interactive context, or None.

    Label Studio sends keypoints and rectangles in percent of the image with its size beside them; a keypoint
    placed with Alt is negative (`is_positive: false`).
    """
    results = (context or {}).get("result") or []
    points, positive, box, label = [], [], None, VISIBLE
    for r in results:
        v, kind = r.get("value", {}), r.get("type", "")
        w, h = float(r.get("original_width", 0)), float(r.get("original_height", 0))
        names = v.get("keypointlabels") or v.get("rectanglelabels") or []
        label = LABELS.get(names[0], VISIBLE) if names else label
        if kind == "keypointlabels":
            points.append((v["x"] * w / 100, v["y"] * h / 100))
            positive.append(0 if r.get("is_positive", True) is False else 1)
        elif kind == "rectanglelabels":
            x, y = v["x"] * w / 100, v["y"] * h / 100
            box = np.array([x, y, x + v["width"] * w / 100, y + v["height"] * h / 100], np.float32)
    if not points and box is None:
        return None
    if points:
        return label, np.array(points, np.float32), np.array(positive, np.int64), box
    return label, None, None, box


@dataclass
class _State:
    model: BackendModel
    projects: dict[str, Any] = field(default_factory=dict)


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "shoemodel-ml-backend"

        def log_message(self, fmt: str, *args: Any) -> None:  # the server log, not stderr noise per request
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}") if n else {}

        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            if self.path.rstrip("/") in ("", "/health"):
                return self._send(200, {"status": "UP", "model_class": MODEL_CLASS,
                                        "model_version": state.model.model_version})
            self._send(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            route = self.path.rstrip("/")
            try:
                body = self._body()
                if route == "/setup":
                    state.model.hostname = body.get("hostname") or state.model.hostname
                    state.model.access_token = body.get("access_token") or state.model.access_token
                    state.projects[str(body.get("project"))] = body.get("extra_params")
                    return self._send(200, {"model_version": state.model.refresh()})
                if route == "/predict":
                    tasks = body.get("tasks") or []
                    context = (body.get("params") or {}).get("context")
                    return self._send(200, {"results": state.model.predict_tasks(tasks, context)})
                if route == "/webhook":
                    state.model.events[str(body.get("action"))] += 1
                    return self._send(200, {"status": "ok"})
                if route == "/validate":
                    return self._send(200, {"status": "ok"})
                self._send(404, {"error": f"no route {self.path}"})
            except Exception as exc:  # noqa: BLE001 - one bad request answers 500 with its reason, the server stays up
                log.exception("request %s failed", route)
                self._send(500, {"error": f"{type(exc).__name__}: {exc}"})

    return Handler


def make_server(cfg: MLBackendConfig, model: BackendModel | None = None) -> ThreadingHTTPServer:
    """The HTTP server (not started); port 0 picks a free one (`server.server_address[1]`)."""
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"annotation.ml_backend.host {cfg.host!r}: the backend serves unauthenticated requests, "
                         "so it binds to 127.0.0.1 only (reach it from elsewhere through an SSH tunnel)")
    model = model or BackendModel(cfg)
    server = ThreadingHTTPServer((cfg.host, cfg.port), _handler(_State(model)))
    server.daemon_threads = True
    server.backend_model = model  # type: ignore[attr-defined]
    return server


def connect_backend(client: Any, project_id: int, url: str, title: str) -> Any:
    """Register the backend with the project through the SDK (once: an existing one at `url` is reused)."""
    from label_studio_sdk.core.api_error import ApiError

    from shoemodel.annotation.client import LabelStudioError

    for backend in client.ml.list(project=project_id):
        if str(getattr(backend, "url", "")).rstrip("/") == url.rstrip("/"):
            return backend
    try:
        return client.ml.create(project=project_id, url=url, title=title, is_interactive=False, auto_update=True)
    except ApiError as exc:
        detail = exc.body.get("detail") if isinstance(exc.body, dict) else exc.body
        hint = (" (Label Studio refuses local addresses unless started with USE_DEFAULT_BANNED_SUBNETS=false)"
                if "reserved network" in str(detail) else "")
        raise LabelStudioError(f"Label Studio did not add the ML backend {url} (HTTP {exc.status_code}: {detail}){hint}") from exc


def retrieve_predictions(client: Any, project_id: int, task_ids: list[int]) -> None:
    """Ask Label Studio to fetch the backend's predictions for these tasks (the Data Manager action)."""
    client.actions.create(id="retrieve_tasks_predictions", project=project_id,
                          selected_items={"all": False, "included": list(task_ids)})
