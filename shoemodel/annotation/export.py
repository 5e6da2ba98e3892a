"""Send a round's images to Label Studio as tasks with brush pre-annotations (predictions).

Images are written below the folder Label Studio serves (local-files storage or any HTTP-served
folder) and referenced by URL, so nothing is uploaded into Label Studio's own storage. Tasks carry
the record id; ids already in the project are skipped, so re-running an export never duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.annotation.brush import mask_to_results
from shoemodel.annotation.client import ensure_local_storage, iter_tasks
from shoemodel.annotation.pool import iter_pool
from shoemodel.annotation.predictor import Predictor, predict, record_input, uncertainty
from shoemodel.schemas.classes import BACKGROUND, VISIBLE
from shoemodel.schemas.records import decode_image, encode_png
from shoemodel.store.atomic import write_bytes_if_changed
from shoemodel.store.names import id_file_name

SHOE_MASK_VERSION = "shoe-mask"
LOCAL_FILES_PREFIX = "/data/local-files/"
BATCH = 50


@dataclass
class ExportReport:
    """What an export did: tasks created, already present, images (re)written, ids not in the pool."""

    created: int = 0
    existing: int = 0
    images_written: int = 0
    missing: list[str] = field(default_factory=list)
    task_ids: list[int] = field(default_factory=list)


def image_relpath(round_no: int, record_id: str) -> str:
    """Where a record's image is served from: a readable slug plus a hash of the exact id (no two ids share a file)."""
    return f"images/round-{round_no:03d}/{id_file_name(record_id, '.png')}"


def existing_record_ids(client: Any, project_id: int) -> dict[str, int]:
    """Record id -> task id of every task already in the project."""
    return {t["data"]["record_id"]: t["id"] for t in iter_tasks(client, project_id) if "record_id" in t.get("data", {})}


def shoe_mask_preannotation(area_mask: np.ndarray) -> np.ndarray:
    """Before a WD model exists: the whole shoe (SAM mask, i.e. every non-background pixel) as visible area."""
    return np.where(np.asarray(area_mask) > 0, VISIBLE, BACKGROUND).astype(np.uint8)


def build_task(rec: dict[str, Any], round_no: int, url: str, predictor: Predictor | None,
               model_version: str) -> dict[str, Any]:
    """One task: image URL, record id, round, and a brush prediction (WD model, else the shoe mask)."""
    if predictor is not None:
        mask, probs = predict(predictor, *record_input(predictor, rec))
        score = 1.0 - uncertainty(probs, mask > 0) if probs is not None else None
    else:
        mask = shoe_mask_preannotation(decode_image(rec["area_mask"], "L", "area_mask"))
        score, model_version = None, SHOE_MASK_VERSION
    prediction: dict[str, Any] = {"model_version": model_version, "result": mask_to_results(mask)}
    if score is not None:
        prediction["score"] = float(score)
    data = {"image": url, "record_id": rec["id"], "round": round_no, "content_hash": rec["content_hash"]}
    return {"data": data, "predictions": [prediction]}


def export_round(client: Any, project_id: int, pool: str | Path, round_no: int, ids: Iterable[str], *,
                 document_root: str | Path, url_prefix: str, predictor: Predictor | None = None,
                 model_version: str = SHOE_MASK_VERSION) -> ExportReport:
    """Write the round's images under document_root and import the tasks not yet in the project."""
    ids = list(ids)
    report = ExportReport()
    present = existing_record_ids(client, project_id)
    batch: list[dict[str, Any]] = []
    found: set[str] = set()
    root = Path(document_root).resolve()
    if url_prefix.startswith(LOCAL_FILES_PREFIX):
        (root / "images").mkdir(parents=True, exist_ok=True)
        ensure_local_storage(client, project_id, str(root / "images"))
    for rec in iter_pool(pool, ids, columns=["id", "content_hash", "image", "shoe_image", "area_mask"]):
        found.add(rec["id"])
        rel = image_relpath(round_no, rec["id"])
        path = root / rel
        if write_bytes_if_changed(path, encode_png(decode_image(rec["image"], "RGB"))):  # also repairs a missing one
            report.images_written += 1
        if rec["id"] in present:
            report.existing += 1
            continue
        batch.append(build_task(rec, round_no, url_prefix + rel, predictor, model_version))
        if len(batch) >= BATCH:
            report.task_ids += _import(client, project_id, batch)
            batch = []
    if batch:
        report.task_ids += _import(client, project_id, batch)
    report.created = len(report.task_ids)
    report.missing = [i for i in ids if i not in found]
    return report


def _import(client: Any, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
    resp = client.projects.import_tasks(id=project_id, request=tasks, return_task_ids=True)
    return list(resp.task_ids or [])
