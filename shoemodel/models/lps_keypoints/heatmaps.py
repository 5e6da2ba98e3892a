"""MSRA Gaussian heatmap targets with UDP coordinates, decoding to (x, y, score), and the flip test.

UDP (unbiased data processing) maps input pixel x to heatmap x * (H - 1) / (S - 1), so an image flip
x -> S-1-x is exactly a heatmap flip u -> H-1-u and flip-test averaging needs no half-pixel shift.
"""

from __future__ import annotations

import numpy as np
import torch

from shoemodel.schemas.keypoints import FOOT_FLIP_PERMUTATION


def encode(kpts: np.ndarray, image_size: int, hm_size: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) input-pixel keypoints -> (K, h, h) Gaussian heatmaps and (K,) weights (0 for missing)."""
    k = np.asarray(kpts, dtype=np.float32)
    scale = (hm_size - 1) / (image_size - 1)
    grid = np.arange(hm_size, dtype=np.float32)
    heat = np.zeros((len(k), hm_size, hm_size), np.float32)
    weight = (k[:, 2] > 0).astype(np.float32)
    for i in np.flatnonzero(weight):
        mx, my = k[i, 0] * scale, k[i, 1] * scale
        heat[i] = np.exp(-((grid[None, :] - mx) ** 2 + (grid[:, None] - my) ** 2) / (2 * sigma**2))
    return heat, weight


def decode(heat: np.ndarray, image_size: int) -> np.ndarray:
    """(K, h, w) heatmaps -> (K, 3) x, y (input pixels), score = peak value.

    Argmax, then the MSRA quarter-pixel shift towards the higher neighbour, then the UDP scale back.
    """
    k, h, w = heat.shape
    flat = heat.reshape(k, -1)
    idx = flat.argmax(1)
    ys, xs = np.divmod(idx, w)
    out = np.zeros((k, 3), np.float32)
    for i in range(k):
        x, y = float(xs[i]), float(ys[i])
        xi, yi = int(xs[i]), int(ys[i])
        if 0 < xi < w - 1:
            x += 0.25 * np.sign(heat[i, yi, xi + 1] - heat[i, yi, xi - 1])
        if 0 < yi < h - 1:
            y += 0.25 * np.sign(heat[i, yi + 1, xi] - heat[i, yi - 1, xi])
        out[i] = (x * (image_size - 1) / (w - 1), y * (image_size - 1) / (h - 1), float(flat[i, idx[i]]))
    return out


def flip_heatmaps(heat: torch.Tensor, permutation: tuple[int, ...] = FOOT_FLIP_PERMUTATION) -> torch.Tensor:
    """Heatmaps predicted on a mirrored image, brought back: mirror the width axis and swap left/right."""
    return heat.flip(-1)[:, list(permutation)]


@torch.no_grad()
def predict_heatmaps(model: torch.nn.Module, pixel_values: torch.Tensor, flip_test: bool = True) -> torch.Tensor:
    """Model heatmaps, averaged with the flipped-input prediction when `flip_test`."""
    heat = model(pixel_values=pixel_values).heatmaps.float()
    if flip_test:
        heat = 0.5 * (heat + flip_heatmaps(model(pixel_values=pixel_values.flip(-1)).heatmaps.float()))
    return heat
