"""Detect stage (person filter): keep images with a confident person whose box holds the lower legs.

Backends (listed in shoemodel.curation.backends) share one interface,
`detect(images) -> [(boxes (N,5), keypoints (N,17,3) or None)]`; full_frame (the whole image is the person
box: for pre-cropped leg photos) is the labelled fallback that `auto` picks when no detector weights are present.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from shoemodel.curation import backends, parts
from shoemodel.curation.config import DetectConfig
from shoemodel.curation.ledger import PERSON_VERDICTS
from shoemodel.curation.prefetch import failure_reason

log = logging.getLogger(__name__)

DETECT_SCHEMA = pa.schema(parts.BASE_FIELDS + [
    pa.field("boxes", pa.list_(pa.float32())),  # kept persons, 5 floats each: x1, y1, x2, y2, score
    pa.field("num_persons", pa.int32()),
])
ANKLES = (15, 16)  # COCO-17 indices
_WARNED: set[str] = set()


class PersonDetector(Protocol):
    name: str
    version: str

    def detect(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]: ...


class FullFrameDetector:
    """The whole image as one person box (score 1): for leg crops, or when no detector is configured."""

    name = "full_frame"
    version = "1"
    whole_frame = True  # its box is the frame: the box-ends-above-the-bottom rule does not apply

    def detect(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        return [(np.array([[0, 0, im.shape[1], im.shape[0], 1.0]], np.float32), None) for im in images]


def resolve_backend(cfg: DetectConfig) -> str:
    """`auto`: yolox_onnx when its weights file exists, else full_frame (logged and kept in provenance)."""
    if cfg.backend != "auto":
        return cfg.backend
    if cfg.weights and Path(cfg.weights).exists():
        return "yolox_onnx" if cfg.weights.endswith(".onnx") else "ultralytics"
    if cfg.weights not in _WARNED:
        _WARNED.add(cfg.weights)
        log.warning("detect.backend=auto and no detector weights at %r: using full_frame (no person filtering)", cfg.weights)
    return "full_frame"


def build_detector(cfg: DetectConfig) -> PersonDetector:
    """The detector named by the config (weights by path; a clear error names a missing file)."""
    return backends.build("detect", cfg, resolve_backend(cfg))


def full_frame(cfg: DetectConfig) -> FullFrameDetector:
    """The `full_frame` backend (no weights, no settings)."""
    return FullFrameDetector()


#: Why a photo has no person left, by how far its best box got through the filters (a box's level is the first
#: filter it fails; 4 = it passes them all).
IMAGE_REASONS = ("no person", "person too small", "lower legs not in the box", "feet hidden by another person")
#: The same, said of one box (the ledger's per-person reason); a box past max_persons is dropped too.
PERSON_REASONS = ("low score", "person too small", "lower legs not in the box", "feet hidden by another person")


def person_checks(det: np.ndarray, kpts: np.ndarray | None, width: int, height: int, cfg: DetectConfig,
                  box_edge_rule: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per box: its level (the first filter it fails, 4 when none), and the value and threshold of that filter."""
    n = len(det)
    values = np.zeros((4, n), np.float64)
    limits = np.zeros((4, n), np.float64)
    passed = np.ones((4, n), bool)
    values[0], limits[0] = det[:, 4], cfg.score_threshold
    passed[0] = det[:, 4] >= cfg.score_threshold
    values[1], limits[1] = (det[:, 3] - det[:, 1]) / max(height, 1), cfg.min_box_height_frac
    passed[1] = (det[:, 3] - det[:, 1]) >= cfg.min_box_height_frac * height
    if kpts is not None:
        values[2], limits[2] = kpts[:, list(ANKLES), 2].max(1), cfg.min_ankle_score
        passed[2] = values[2] >= cfg.min_ankle_score
    elif box_edge_rule and cfg.bottom_margin_frac > 0:
        values[2], limits[2] = det[:, 3] / max(height, 1), 1 - cfg.bottom_margin_frac
        passed[2] = det[:, 3] <= height * (1 - cfg.bottom_margin_frac) - 1e-3
    values[3], limits[3] = feet_occlusion(det), cfg.max_feet_occlusion
    passed[3] = values[3] <= cfg.max_feet_occlusion
    level = np.where(passed.all(0), 4, np.argmin(passed, axis=0)) if n else np.zeros(0, int)
    pick = np.minimum(level, 3)
    return level, values[pick, np.arange(n)], limits[pick, np.arange(n)]


def select_persons(det: np.ndarray, kpts: np.ndarray | None, width: int, height: int,
                   cfg: DetectConfig, box_edge_rule: bool = True) -> tuple[np.ndarray, str | None]:
    """Persons that pass the filter, largest first (at most max_persons), or the reason none did.

    A person passes with a confident, tall enough box whose lower legs are in view (ankle scores for pose
    detectors, else the box ends above the image bottom) and whose feet no other person in front hides.
    """
    keep, reason, _ = select_with_verdicts(det, kpts, width, height, cfg, box_edge_rule)
    return keep, reason


def select_with_verdicts(det: np.ndarray, kpts: np.ndarray | None, width: int, height: int, cfg: DetectConfig,
                         box_edge_rule: bool = True) -> tuple[np.ndarray, str | None, list[dict[str, Any]]]:
    """`select_persons` plus every box's verdict for the ledger: person index (kept boxes first, in the order the
    row holds them, so it is the record id's; then the dropped ones in detector order), box, outcome, reason and
    the value and threshold of the filter it failed."""
    if len(det) == 0:
        return det, "no person", []
    level, values, limits = person_checks(det, kpts, width, height, cfg, box_edge_rule)
    ok = level == 4
    passing = np.flatnonzero(ok)
    area = (det[passing, 2] - det[passing, 0]) * (det[passing, 3] - det[passing, 1])
    order = passing[np.argsort(-area, kind="stable")]
    chosen, extra = order[: cfg.max_persons], order[cfg.max_persons:]
    verdicts = [{"person": j, "box": det[i].tolist(), "outcome": parts.KEPT, "reason": None, "level": 4}
                for j, i in enumerate(chosen)]
    for rank, i in enumerate(extra, start=len(chosen)):
        verdicts.append({"box": det[i].tolist(), "outcome": parts.DROPPED, "level": 4, "value": rank + 1,
                         "threshold": cfg.max_persons, "reason": f"beyond max_persons: {rank + 1} > {cfg.max_persons}"})
    for i in np.flatnonzero(~ok):
        verdicts.append({"box": det[i].tolist(), "outcome": parts.DROPPED, "level": int(level[i]),
                         "reason": PERSON_REASONS[level[i]], "value": float(values[i]), "threshold": float(limits[i])})
    for j, v in enumerate(verdicts[len(chosen):], start=len(chosen)):
        v["person"] = j
    if not ok.any():
        return det[:0], IMAGE_REASONS[int(level.max())], verdicts
    return det[chosen], None, verdicts


def feet_occlusion(det: np.ndarray, foot_frac: float = 0.15) -> np.ndarray:
    """Per box: the largest share of its feet zone (its bottom `foot_frac`) covered by one box standing in front.

    A box whose bottom is lower in the image stands nearer the camera (people on one floor), so it hides
    what lies behind it; the person in front is never counted as hidden by the one behind.
    """
    out = np.zeros(len(det), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(det[:, :4]):
        fy1 = y2 - foot_frac * (y2 - y1)
        zone = max((x2 - x1) * (y2 - fy1), 1e-6)
        for j, (u1, v1, u2, v2) in enumerate(det[:, :4]):
            if j == i or v2 <= y2:
                continue
            inter = max(0.0, min(x2, u2) - max(x1, u1)) * max(0.0, min(y2, v2) - max(fy1, v1))
            out[i] = max(out[i], inter / zone)
    return out


def detect_rows(rows: list[dict[str, Any]], detector: PersonDetector, cfg: DetectConfig) -> list[dict[str, Any]]:
    """Run the detector in batches over ingest rows (decoded ahead in threads); one output row per input row."""
    from shoemodel.curation.prefetch import map_batches

    return map_batches(rows, cfg.batch_size, cfg.loader_threads, lambda b: detect_decoded(b.rows, b.images, detector, cfg))


def detect_decoded(batch: list[dict[str, Any]], decoded: list[Any], detector: PersonDetector,
                   cfg: DetectConfig) -> list[dict[str, Any]]:
    """One batch already decoded (an image or its decode error per row): one detector call, one row per input row."""
    out: list[dict[str, Any]] = []
    images, ok_rows = [], []
    for r, im in zip(batch, decoded):
        if isinstance(im, Exception):
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.FAILED, failure_reason(im)))
        else:
            images.append(im)
            ok_rows.append(r)
    try:
        results = detector.detect(images) if images else []
    except Exception as exc:  # noqa: BLE001 - a batch error falls back to one image at a time
        results = []
        for im in images:
            try:
                results.append(detector.detect([im])[0])
            except Exception as exc1:  # noqa: BLE001
                results.append(exc1)
        log.debug("batch detect failed (%s); retried per image", exc)
    for r, im, res in zip(ok_rows, images, results):
        if isinstance(res, Exception):
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.FAILED, f"detect: {type(res).__name__}: {res}"))
            continue
        det, kp = res
        keep, reason, verdicts = select_with_verdicts(det, kp, im.shape[1], im.shape[0], cfg,
                                                      not getattr(detector, "whole_frame", False))
        status = parts.KEPT if reason is None else parts.DROPPED
        out.append(parts.row(r["source_uri"], r["content_hash"], status, reason,
                             boxes=keep.reshape(-1).tolist() if reason is None else None, num_persons=int(len(det)),
                             **{PERSON_VERDICTS: verdicts}))
    return out


def detector_info(cfg: DetectConfig) -> dict[str, Any]:
    """Backend, library version and weights hash of the detector (without building it here)."""
    from shoemodel.curation.provenance import backend_info

    return backend_info("detect", resolve_backend(cfg), cfg.weights if resolve_backend(cfg) != "full_frame" else "")
