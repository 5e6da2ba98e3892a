"""Ultralytics YOLO / RT-DETR person detector; pose models also give ankle points used by the filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation.backends import get
from shoemodel.models.weights import require_weights

HINT = get("detect", "ultralytics").hint


class UltralyticsDetector:
    """YOLO (detect or pose) or RT-DETR by weights path; class 0 = person (COCO)."""

    name = "ultralytics"

    def __init__(self, weights: str | Path, input_size: int = 640, score_threshold: float = 0.5,
                 nms_threshold: float = 0.45, batch_size: int = 8, device: str = "auto", dtype: str = "auto"):
        import os

        from shoemodel.compat.torchvision import ensure_torchvision

        os.environ.setdefault("YOLO_AUTOINSTALL", "false")  # never pip-install at run time on a worker
        ensure_torchvision()
        import PIL.Image

        pil_open = PIL.Image.open
        import ultralytics
        from ultralytics import RTDETR, YOLO

        # ultralytics replaces PIL's Image.open process-wide with one that pip-installs pi-heif on an unknown
        # file; put PIL's own back, so importing this backend changes no other image decoding in the process
        PIL.Image.open = pil_open

        w = str(weights)
        if not w.endswith((".yaml", ".yml")):
            require_weights(w, "ultralytics detector", HINT)
        cls = RTDETR if "rtdetr" in Path(w).name.lower() else YOLO
        self.model = cls(w)
        from shoemodel.models.device import dtype_name, resolve_device, resolve_dtype

        self.size, self.conf, self.iou, self.batch = input_size, score_threshold, nms_threshold, batch_size
        self.device = resolve_device(device)
        self.half = dtype_name(resolve_dtype(dtype, self.device)) != "float32"  # ultralytics has fp16 only
        self.runtime = {"device": self.device, "dtype": "float16" if self.half else "float32"}
        self.version = f"{Path(w).name} ultralytics-{ultralytics.__version__}"

    def detect(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per RGB image: (N, 5) person boxes and, for pose models, (N, 17, 3) COCO keypoints."""
        if not images:
            return []
        bgr = [np.ascontiguousarray(im[..., ::-1]) for im in images]
        results = self.model.predict(bgr, imgsz=self.size, conf=self.conf, iou=self.iou, classes=[0],
                                     batch=self.batch, verbose=False, device=self.device, half=self.half)
        out = []
        for r in results:
            b = r.boxes
            det = np.concatenate([b.xyxy.cpu().numpy(), b.conf.cpu().numpy()[:, None]], 1).astype(np.float32)
            kp = r.keypoints.data.cpu().numpy().astype(np.float32) if getattr(r, "keypoints", None) is not None else None
            out.append((det, kp))
        return out


def from_config(cfg: Any) -> UltralyticsDetector:
    """The `ultralytics` backend of curation.detect."""
    return UltralyticsDetector(cfg.weights, cfg.input_size, cfg.score_threshold, cfg.nms_threshold, cfg.batch_size,
                               device=cfg.device, dtype=cfg.dtype)
