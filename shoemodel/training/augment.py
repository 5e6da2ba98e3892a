"""Geometric and photometric augmentation shared by WD and LpS phase 1 (paper §3.1, §3.2).

Every geometric step is a 2x3 affine matrix, composed and applied once (image bilinear, mask nearest,
points exactly), so masks and keypoints never drift from the pixels. All randomness comes from the
`np.random.Generator` passed in, which the trainers seed per (step, sample) for exact resume.
"""

from __future__ import annotations

import cv2
import numpy as np


def _h(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def compose(*mats: np.ndarray) -> np.ndarray:
    """compose(A, B) applies B first, then A (matrix order)."""
    out = np.eye(3)
    for m in mats:
        out = out @ _h(m)
    return out[:2]


def letterbox_matrix(width: int, height: int, size: int) -> np.ndarray:
    """Scale the longer side to `size` keeping aspect, centred on a size x size black canvas."""
    s = size / max(width, height)
    tx, ty = (size - width * s) / 2, (size - height * s) / 2
    return np.array([[s, 0, tx], [0, s, ty]], dtype=np.float64)


def random_affine(size: int, rng: np.random.Generator, rotate_prob: float = 0.5, rotate_deg: float = 15.0,
                  scale_range: tuple[float, float] = (1.0, 1.0), translate: float = 0.0,
                  flip_prob: float = 0.0) -> tuple[np.ndarray, bool]:
    """A random rotation (with probability), rescale and shift about the canvas centre, and optional h-flip.

    Returns (2x3 matrix on size x size canvas coordinates, flipped?). A flip mirrors x -> size-1-x so it
    matches `flip_keypoints(width=size)`.
    """
    c = (size - 1) / 2
    angle = float(rng.uniform(-rotate_deg, rotate_deg)) if rng.random() < rotate_prob else 0.0
    lo, hi = scale_range
    scale = float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if hi > lo else float(lo)
    tx, ty = (rng.uniform(-translate, translate, size=2) * size) if translate > 0 else (0.0, 0.0)
    m = cv2.getRotationMatrix2D((c, c), angle, scale)
    m[:, 2] += (tx, ty)
    flipped = bool(rng.random() < flip_prob)
    if flipped:
        m = compose(np.array([[-1.0, 0, size - 1], [0, 1, 0]]), m)
    return m, flipped


def warp_image(img: np.ndarray, m: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    """Apply a 2x3 affine to an image or mask onto a size x size canvas; outside is 0 (black/background)."""
    return cv2.warpAffine(np.ascontiguousarray(img), m.astype(np.float64), (size, size),
                          flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp_points(kpts: np.ndarray, m: np.ndarray, size: int | None = None) -> np.ndarray:
    """Map (K, 3) keypoints through a 2x3 affine; a point leaving the canvas becomes missing (0, 0, 0)."""
    k = np.asarray(kpts, dtype=np.float32).copy()
    present = k[:, 2] > 0
    xy = k[:, :2] @ m[:, :2].T + m[:, 2]
    k[:, :2] = np.where(present[:, None], xy, 0)
    if size is not None:
        inside = (k[:, 0] >= 0) & (k[:, 0] <= size - 1) & (k[:, 1] >= 0) & (k[:, 1] <= size - 1)
        k[present & ~inside] = 0
    return k


def invert(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m.astype(np.float64))


def color_jitter(img: np.ndarray, rng: np.random.Generator, brightness: float = 0.3, contrast: float = 0.3,
                 saturation: float = 0.3, hue: float = 0.05, foreground: np.ndarray | None = None) -> np.ndarray:
    """Random brightness / contrast / saturation / hue (torchvision ColorJitter ranges), in random order.

    With `foreground`, only those pixels change, so X_m's black background stays exactly black.
    """
    x = img.astype(np.float32) / 255.0
    ops = rng.permutation(4)
    for op in ops:
        if op == 0 and brightness > 0:
            x = x * rng.uniform(1 - brightness, 1 + brightness)
        elif op == 1 and contrast > 0:
            mean = x.mean() if foreground is None or not foreground.any() else x[foreground].mean()
            x = (x - mean) * rng.uniform(1 - contrast, 1 + contrast) + mean
        elif op == 2 and saturation > 0:
            grey = x @ np.array([0.299, 0.587, 0.114], np.float32)
            x = (x - grey[..., None]) * rng.uniform(1 - saturation, 1 + saturation) + grey[..., None]
        elif op == 3 and hue > 0:
            hsv = cv2.cvtColor(np.clip(x, 0, 1), cv2.COLOR_RGB2HSV)
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(-hue, hue) * 360.0) % 360.0
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    out = (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
    if foreground is not None:
        out = np.where(foreground[..., None], out, img)
    return out


def mosaic(images: list[np.ndarray], masks: list[np.ndarray], size: int, rng: np.random.Generator,
           centre_range: tuple[float, float] = (0.25, 0.75)) -> tuple[np.ndarray, np.ndarray]:
    """Mosaic of 4 samples (YOLOv4 [2] / mmseg RandomMosaic): a random centre splits the canvas into four
    cells; each sample is letterboxed into its cell, so no shoe is cut off."""
    if len(images) != 4 or len(masks) != 4:
        raise ValueError("mosaic needs exactly 4 images and 4 masks")
    cx = int(round(rng.uniform(*centre_range) * size))
    cy = int(round(rng.uniform(*centre_range) * size))
    cells = [(0, 0, cx, cy), (cx, 0, size, cy), (0, cy, cx, size), (cx, cy, size, size)]
    canvas = np.zeros((size, size, 3), np.uint8)
    mcanvas = np.zeros((size, size), np.uint8)
    for img, msk, (x0, y0, x1, y1) in zip(images, masks, cells, strict=True):
        w, h = x1 - x0, y1 - y0
        if w < 2 or h < 2:
            continue
        ih, iw = img.shape[:2]
        s = min(w / iw, h / ih)
        m = np.array([[s, 0, x0 + (w - iw * s) / 2], [0, s, y0 + (h - ih * s) / 2]])
        warped = cv2.warpAffine(np.ascontiguousarray(img), m, (size, size), flags=cv2.INTER_LINEAR)
        wmask = cv2.warpAffine(np.ascontiguousarray(msk), m, (size, size), flags=cv2.INTER_NEAREST)
        cell = np.zeros((size, size), bool)
        cell[y0:y1, x0:x1] = True
        canvas[cell] = warped[cell]
        mcanvas[cell] = wmask[cell]
    return canvas, mcanvas


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def to_tensor_normalized(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32 normalised with ImageNet statistics (Segformer/ViTPose inputs)."""
    x = (img.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def content_matrix(img: np.ndarray, size: int, margin: float = 0.1, enabled: bool = True) -> np.ndarray:
    """Affine that fits the non-black content of X_m (plus `margin` of its size) into a size x size canvas.

    X_m is a shoe on black, so its own pixels give the box: no detector is involved. Falls back to a
    plain letterbox when disabled or when the image is all black.
    """
    h, w = img.shape[:2]
    fg = img.max(-1) > 0 if img.ndim == 3 else img > 0
    if not enabled or not fg.any():
        return letterbox_matrix(w, h, size)
    ys, xs = np.nonzero(fg)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    side = max(side, 8.0)
    s = size / side
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], dtype=np.float64)


def unwarp_scores(scores: np.ndarray, m: np.ndarray, width: int, height: int, fill: np.ndarray) -> np.ndarray:
    """Map per-class score maps (C, S, S) from the canvas back to the (C, height, width) input frame.

    `fill` (C,) is the score given outside the canvas (e.g. background = 1).
    """
    out = np.empty((scores.shape[0], height, width), np.float32)
    for c in range(scores.shape[0]):
        out[c] = cv2.warpAffine(np.ascontiguousarray(scores[c], dtype=np.float32), m.astype(np.float64), (width, height),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=float(fill[c]))
    return out
