"""Pose stage: whole-body (COCO-WholeBody 133) pose on each kept person -> 12 shoe-leg keypoints + filters.

Backends share `estimate(image, boxes) -> (P, 133, 3)`: mediapipe (BlazePose, weights in the
wheel, works offline), vitpose (transformers, 133-point head by path) and mmpose (optional).
The first person (largest) that passes the quality filters gives the image's record.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from shoemodel.curation import parts
from shoemodel.curation.config import PoseConfig
from shoemodel.schemas.keypoints import KEYPOINT_NAMES, wholebody_to_shoeleg

POSE_SCHEMA = pa.schema(parts.BASE_FIELDS + [
    pa.field("keypoints", pa.list_(pa.float32())),  # 12 x (x, y, score); missing = 0, 0, 0
    pa.field("person_box", pa.list_(pa.float32())),  # x1, y1, x2, y2, score
])
FOOT_PARTS = ("ankle", "big_toe", "small_toe", "heel")


class WholeBodyPose(Protocol):
    name: str
    version: str

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray: ...


def build_pose(cfg: PoseConfig) -> WholeBodyPose:
    """The pose backend named by the config."""
    if cfg.backend == "mediapipe":
        from shoemodel.curation.pose_mediapipe import MediaPipePose

        return MediaPipePose(cfg.model_complexity, cfg.box_padding)
    if cfg.backend == "vitpose":
        from shoemodel.curation.pose_vitpose import VitPoseWholeBody

        return VitPoseWholeBody(cfg.weights, dataset_index=cfg.dataset_index, device=cfg.device, dtype=cfg.dtype)
    if cfg.backend == "mmpose":
        from shoemodel.curation.pose_mmpose import MMPoseWholeBody

        return MMPoseWholeBody(cfg.config, cfg.weights)
    raise ValueError(f"curation.pose.backend '{cfg.backend}' unknown; use mediapipe, vitpose or mmpose")


def to_shoeleg(wholebody: np.ndarray, width: int, height: int, min_score: float) -> np.ndarray:
    """(133, 3) -> (12, 3); points below min_score or outside the image become missing (0, 0, 0)."""
    k = wholebody_to_shoeleg(wholebody).copy()
    inside = (k[:, 0] >= 0) & (k[:, 0] < width) & (k[:, 1] >= 0) & (k[:, 1] < height)
    bad = (k[:, 2] < min_score) | ~inside
    k[bad] = 0
    k[:, 2] = np.clip(k[:, 2], 0, 1)
    return k


def _index(side: str, part: str) -> int:
    return KEYPOINT_NAMES.index(f"{side}_{part}")


def quality_reason(k: np.ndarray, box: np.ndarray, cfg: PoseConfig) -> str | None:
    """Why these 12 keypoints fail the filters, or None when they pass."""
    unknown = set(cfg.foot_points) - set(FOOT_PARTS)
    if unknown:
        raise ValueError(f"curation.pose.foot_points: unknown {sorted(unknown)}; choose from {FOOT_PARTS}")
    complete = sum(all(k[_index(side, p), 2] > 0 for p in cfg.foot_points) for side in ("left", "right"))
    if complete < cfg.min_complete_feet:
        return f"no complete foot: {complete} < {cfg.min_complete_feet}"
    box_h = max(float(box[3] - box[1]), 1.0)
    for side in ("left", "right"):
        knee, ankle = k[_index(side, "knee")], k[_index(side, "ankle")]
        if knee[2] > 0 and ankle[2] > 0:
            frac = float(np.hypot(*(knee[:2] - ankle[:2]))) / box_h
            if not cfg.min_leg_frac <= frac <= cfg.max_leg_frac:
                return f"leg length: {side} knee-ankle {frac:.2f} of box height"
    return None


def pose_rows(rows: list[dict[str, Any]], estimator: WholeBodyPose, cfg: PoseConfig) -> list[dict[str, Any]]:
    """One output row per detect-kept image (decoded ahead in threads); errors per image are captured as failed rows."""
    from shoemodel.curation.prefetch import batches

    out: list[dict[str, Any]] = []
    for b in batches(rows, cfg.batch_size, cfg.loader_threads):
        out += pose_decoded(b.rows, b.images, estimator, cfg)
    return out


def pose_decoded(batch: list[dict[str, Any]], images: list[Any], estimator: WholeBodyPose,
                 cfg: PoseConfig) -> list[dict[str, Any]]:
    """One decoded batch: every person crop of every image through the model in one call where it can batch."""
    out = []
    batch_fn = getattr(estimator, "estimate_batch", None)
    boxes = [np.asarray(r["boxes"], np.float32).reshape(-1, 5) for r in batch]
    wbs: list[Any] = [None] * len(batch)
    ok = [i for i, im in enumerate(images) if not isinstance(im, Exception)]
    if batch_fn is not None and ok:
        try:
            for i, wb in zip(ok, batch_fn([images[i] for i in ok], [boxes[i] for i in ok])):
                wbs[i] = wb
        except Exception:  # noqa: BLE001 - fall back to one image at a time below
            pass
    for i, r in enumerate(batch):
        im = images[i]
        if isinstance(im, Exception):
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.FAILED, f"decode: {im}"))
            continue
        try:
            wb = wbs[i] if wbs[i] is not None else estimator.estimate(im, boxes[i])
            out.append(_choose(r, wb, boxes[i], im.shape[1], im.shape[0], cfg))
        except Exception as exc:  # noqa: BLE001
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.FAILED, f"pose: {type(exc).__name__}: {exc}"))
    return out


def _choose(r: dict[str, Any], wb: np.ndarray, boxes: np.ndarray, width: int, height: int, cfg: PoseConfig) -> dict[str, Any]:
    reason = "no person box"
    for person, box in zip(wb, boxes):
        k = to_shoeleg(person, width, height, cfg.min_point_score)
        reason = quality_reason(k, box, cfg)
        if reason is None:
            return parts.row(r["source_uri"], r["content_hash"], parts.KEPT, None,
                             keypoints=k.reshape(-1).tolist(), person_box=box.tolist())
    return parts.row(r["source_uri"], r["content_hash"], parts.DROPPED, reason)
