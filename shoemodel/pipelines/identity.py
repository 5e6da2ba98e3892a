"""Shoe-identity metrics: does the output keep the user's shoe (the point of the paper)?

Before paste-back: how close SW's own shoe region is to X_w (masked PSNR / SSIM): a ControlNet that
learned the task already draws the given shoe there. After paste-back the region is exact by construction
(PSNR inf); what remains is the seam, measured as the edge strength along the mask border relative to
the same band in the unpasted image (1 = no new edge, > 1 = a visible seam).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def _f(img: np.ndarray) -> np.ndarray:
    return np.asarray(img, dtype=np.float64)


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float = 255.0) -> float:
    """PSNR over the masked pixels (all channels); inf when they are identical, nan for an empty mask."""
    m = np.asarray(mask, bool)
    if not m.any():
        return float("nan")
    mse = float(np.mean((_f(a)[m] - _f(b)[m]) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float = 255.0, sigma: float = 1.5) -> float:
    """Mean of the SSIM map (Gaussian window, per channel) over the masked pixels; 1.0 for identical images."""
    m = np.asarray(mask, bool)
    if not m.any():
        return float("nan")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    x, y = _f(a), _f(b)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    maps = []
    for c in range(x.shape[2]):
        xc, yc = x[..., c], y[..., c]
        mx, my = ndimage.gaussian_filter(xc, sigma), ndimage.gaussian_filter(yc, sigma)
        sxx = ndimage.gaussian_filter(xc * xc, sigma) - mx * mx
        syy = ndimage.gaussian_filter(yc * yc, sigma) - my * my
        sxy = ndimage.gaussian_filter(xc * yc, sigma) - mx * my
        maps.append(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2)))
    return float(np.mean(np.stack(maps, -1)[m]))


def border_band(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """Pixels within `width` of the mask border, on both sides."""
    m = np.asarray(mask, bool)
    return ndimage.binary_dilation(m, iterations=width) & ~ndimage.binary_erosion(m, iterations=width)


def edge_strength(img: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the channel-mean image (0-255 scale)."""
    g = _f(img).mean(axis=2) if np.asarray(img).ndim == 3 else _f(img)
    return np.hypot(ndimage.sobel(g, axis=0), ndimage.sobel(g, axis=1)) / 8.0


def seam_score(pasted: np.ndarray, raw: np.ndarray, mask: np.ndarray, width: int = 1) -> dict[str, float]:
    """Edge strength on the mask border after paste-back vs before (`seam_ratio` 1 = seamless)."""
    band = border_band(mask, width)
    if not band.any():
        return {"seam_edge": float("nan"), "seam_edge_raw": float("nan"), "seam_ratio": float("nan")}
    after = float(edge_strength(pasted)[band].mean())
    before = float(edge_strength(raw)[band].mean())
    return {"seam_edge": after, "seam_edge_raw": before, "seam_ratio": after / max(before, 1e-6)}


def identity_metrics(raw: np.ndarray, pasted: np.ndarray, x_w: np.ndarray, visible: np.ndarray) -> dict[str, float]:
    """All shoe-identity numbers of one generated image."""
    out = {"shoe_psnr_raw": masked_psnr(raw, x_w, visible), "shoe_ssim_raw": masked_ssim(raw, x_w, visible),
           "shoe_psnr_pasted": masked_psnr(pasted, x_w, visible)}
    out.update(seam_score(pasted, raw, visible))
    return out
