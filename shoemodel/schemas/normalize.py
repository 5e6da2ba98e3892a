"""Phase-2 coordinate normalisation of the paper (§3.2): P_norm = P / s * 0.9 + 0.1, missing = 0."""

from __future__ import annotations

import numpy as np

SCALE, OFFSET = 0.9, 0.1


def normalize_coords(points: np.ndarray, size: float | tuple[float, float], visible: np.ndarray | None = None) -> np.ndarray:
    """Map pixel coordinates (..., 2) to [0.1, 1.0]; points not visible become exactly 0.

    `size` is the image size s (a scalar, or (width, height) for non-square images).
    """
    p = np.asarray(points, dtype=np.float32)
    s = np.asarray(size, dtype=np.float32)
    out = p / s * SCALE + OFFSET
    if visible is not None:
        out = np.where(np.asarray(visible, bool)[..., None], out, 0.0)
    return out.astype(np.float32)


def denormalize_coords(norm: np.ndarray, size: float | tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of `normalize_coords`: returns (pixel coords, visible flags).

    A point is present only when both coordinates reach half the offset; anything else is missing (0 in, 0 out).
    """
    n = np.asarray(norm, dtype=np.float32)
    s = np.asarray(size, dtype=np.float32)
    visible = np.all(n >= OFFSET / 2, axis=-1)
    pix = (n - OFFSET) / SCALE * s
    pix = np.where(visible[..., None], pix, 0.0)
    return pix.astype(np.float32), visible
