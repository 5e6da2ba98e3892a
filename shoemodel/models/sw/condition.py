"""SW's condition: X_w ⊕ X_p, the shoe image and the pose image stacked into 6 channels (paper §3.3)."""

from __future__ import annotations

import numpy as np


def condition_array(x_w: np.ndarray, x_p: np.ndarray) -> np.ndarray:
    """X_w ⊕ X_p as a (6, H, W) float32 array in [0, 1] (channel order: X_w RGB then X_p RGB)."""
    if x_w.shape != x_p.shape or x_w.ndim != 3 or x_w.shape[2] != 3:
        raise ValueError(f"X_w {x_w.shape} and X_p {x_p.shape} must both be (H, W, 3)")
    both = np.concatenate([x_w, x_p], axis=2).astype(np.float32) / 255.0
    return np.ascontiguousarray(both.transpose(2, 0, 1))
