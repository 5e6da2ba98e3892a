"""Foot-keypoint metrics: PCK at a fraction of the image size, and per-point pixel error.

Only ground-truth points that are present (vis > 0) count; a prediction for a missing point is ignored.
"""

from __future__ import annotations

import numpy as np


def keypoint_errors(pred: np.ndarray, target: np.ndarray, image_sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances normalised by image size, and a presence mask; both (N, K).

    pred, target: (N, K, >=2) pixels (target[..., 2] = visibility); image_sizes: (N,) the size s used
    for normalising (max(width, height)).
    """
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    s = np.asarray(image_sizes, dtype=np.float64).reshape(-1, 1)
    present = t[..., 2] > 0 if t.shape[-1] > 2 else np.ones(t.shape[:2], bool)
    dist = np.linalg.norm(p[..., :2] - t[..., :2], axis=-1) / s
    return dist, present


def pck(pred: np.ndarray, target: np.ndarray, image_sizes: np.ndarray, alpha: float) -> float:
    """Fraction (0..1) of present ground-truth points predicted within alpha * image size."""
    d, present = keypoint_errors(pred, target, image_sizes)
    if not present.any():
        return float("nan")
    return float((d[present] <= alpha).mean())


def keypoint_metrics(pred: np.ndarray, target: np.ndarray, image_sizes: np.ndarray, names: tuple[str, ...],
                     alphas: tuple[float, ...] = (0.05, 0.1)) -> dict[str, float]:
    """PCK@alpha (percent), mean normalised error overall and per point (percent of image size)."""
    d, present = keypoint_errors(pred, target, image_sizes)
    out = {f"PCK@{a:g}": 100 * pck(pred, target, image_sizes, a) for a in alphas}
    out["mean_error"] = float(100 * d[present].mean()) if present.any() else float("nan")
    for k, name in enumerate(names):
        m = present[:, k]
        out[f"error/{name}"] = float(100 * d[m, k].mean()) if m.any() else float("nan")
    return out
