"""ViTPose heatmaps -> keypoints for a whole batch of person crops at once (same numbers as transformers' post-processing).

transformers' `post_process_pose_estimation` smooths each of the 133 heatmaps of every crop with its own
`gaussian_filter` call before the DARK sub-pixel refinement: ~130 Python-level filter calls per person, which
on a GPU box costs more than the model. Here the smoothing is one filter call over the (crops, points, H, W)
array (the same separable filter on the same axes, so the same values), and the refinement is vectorised.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SIGMA = 0.8  # transformers' DARK modulation
KERNEL = 11  # its default kernel size: smoothing radius (KERNEL - 1) // 2


def _argmax_points(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per crop and point: the heatmap's peak cell (x, y) (-1 where the peak is not positive) and its value."""
    n, k, _, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1)
    idx = flat.argmax(2)
    scores = flat.max(2)
    xy = np.stack([idx % w, idx // w], -1).astype(np.float32)
    return np.where(scores[..., None] > 0, xy, -1.0).astype(np.float32), scores


def _gauss(kernel: int) -> np.ndarray:
    """scipy's normalised 1-D Gaussian taps for SIGMA and radius (kernel - 1) // 2."""
    r = (kernel - 1) // 2
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / SIGMA) ** 2)
    return g / g.sum()


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    """scipy.ndimage's "reflect" border (d c b a | a b c d | d c b a) as indices, for offsets up to n."""
    i = np.where(i < 0, -i - 1, i)
    return np.where(i >= n, 2 * n - i - 1, i)


def _dark_at_peaks(coords: np.ndarray, heatmaps: np.ndarray, kernel: int = KERNEL) -> np.ndarray:
    """The DARK step smoothing only the 3x3 cells around each peak (what the step reads), not whole maps.

    Same filter as `_dark` (scipy's reflect borders, rows then columns, float32 between passes) on a
    (3 + 2r)^2 window; neighbours outside the map take the edge cell, as the reference's edge padding does.
    """
    n, k, h, w = heatmaps.shape
    r = (kernel - 1) // 2
    g = _gauss(kernel)
    x = coords[..., 0].astype(int).reshape(-1)
    y = coords[..., 1].astype(int).reshape(-1)
    offs = np.arange(-1, 2)
    cx = np.clip(x[:, None] + offs, 0, w - 1)  # (M, 3) cells read, edge-clamped
    cy = np.clip(y[:, None] + offs, 0, h - 1)
    taps = np.arange(-r, r + 1)
    flat = heatmaps.reshape(n * k, h, w)
    m = np.arange(n * k)[:, None, None, None, None]
    rows = _reflect(cy[:, :, None] + taps, h)[:, :, None, :, None]  # (M, 3, 1, T, 1)
    cols = _reflect(cx[:, :, None] + taps, w)[:, None, :, None, :]  # (M, 1, 3, 1, T)
    win = flat[m, rows, cols]  # (M, 3, 3, T, T): raw values around each of the 9 cells
    along_y = np.einsum("abcij,i->abcj", win.astype(np.float64), g).astype(np.float32)
    smooth = np.einsum("abcj,j->abc", along_y.astype(np.float64), g).astype(np.float32)  # (M, 3[y], 3[x])
    logh = np.log(np.clip(smooth, 0.001, 50))

    def at(dx: int, dy: int) -> np.ndarray:
        return logh[:, dy + 1, dx + 1]

    return _newton(coords, at)


def _newton(coords: np.ndarray, at: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """coords minus the inverse Hessian times the gradient of the log heatmap (finite differences via `at`)."""
    n, k = coords.shape[:2]
    c = at(0, 0)
    gx, gy = 0.5 * (at(1, 0) - at(-1, 0)), 0.5 * (at(0, 1) - at(0, -1))
    hxx, hyy = at(1, 0) - 2 * c + at(-1, 0), at(0, 1) - 2 * c + at(0, -1)
    hxy = 0.5 * (at(1, 1) - at(1, 0) - at(0, 1) + 2 * c - at(-1, 0) - at(0, -1) + at(-1, -1))
    hess = np.stack([np.stack([hxx, hxy], -1), np.stack([hxy, hyy], -1)], -2) + np.finfo(np.float32).eps * np.eye(2)
    step = np.einsum("imn,in->im", np.linalg.inv(hess), np.stack([gx, gy], -1))
    return coords - step.reshape(n, k, 2)


def _dark(coords: np.ndarray, heatmaps: np.ndarray, kernel: int = KERNEL) -> np.ndarray:
    """The DARK step on whole smoothed maps: for points with no positive peak, whose neighbours the reference
    reads across map boundaries (one flat index into all padded maps)."""
    from scipy.ndimage import gaussian_filter

    n, k, h, w = heatmaps.shape
    r = (kernel - 1) // 2
    smooth = gaussian_filter(heatmaps, sigma=SIGMA, radius=(r, r), axes=(2, 3))
    logh = np.log(np.clip(smooth, 0.001, 50))
    pad = np.pad(logh, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge").reshape(-1)
    stride = w + 2
    base = (coords[..., 0].reshape(-1) + 1 + (coords[..., 1].reshape(-1) + 1) * stride).astype(int)
    base += stride * (h + 2) * np.arange(n * k)

    def at(dx: int, dy: int) -> np.ndarray:
        return pad[base + dx + dy * stride]

    return _newton(coords, at)


def decode(heatmaps: np.ndarray, boxes_xywh: list[list[float]], input_size: tuple[int, int]) -> np.ndarray:
    """(crops, K, H, W) heatmaps and each crop's person box (x, y, w, h, image pixels) -> (crops, K, 3) x, y, score."""
    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    from transformers.models.vitpose.image_processing_vitpose import box_to_center_and_scale, transform_preds

    heatmaps = np.asarray(heatmaps, np.float32)
    n, _, h, w = heatmaps.shape
    coords, scores = _argmax_points(heatmaps)
    refined = _dark(coords.copy(), heatmaps) if (coords < 0).any() else _dark_at_peaks(coords.copy(), heatmaps)
    height, width = input_size
    out = np.empty((n, heatmaps.shape[1], 3), np.float32)
    for i, box in enumerate(boxes_xywh):
        center, scale = box_to_center_and_scale(box, image_width=width, image_height=height)
        out[i, :, :2] = transform_preds(refined[i], center=center, scale=scale, output_size=[h, w])
        out[i, :, 2] = scores[i]
    return out
