"""Paste X_w back onto generated images (paper §3.3): the shoe's visible pixels are the user's, exactly."""

from __future__ import annotations

import numpy as np


def paste_back(generated: np.ndarray, x_w: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Copy of `generated` (H, W, 3 uint8) with X_w's pixels where `keep` (the visible-area mask) is set."""
    if generated.shape != x_w.shape or keep.shape != generated.shape[:2]:
        raise ValueError(f"shapes differ: generated {generated.shape}, X_w {x_w.shape}, mask {keep.shape}")
    return np.where(keep[..., None], x_w, generated).astype(np.uint8)
