"""Deterministic image geometry shared by inference and training (content crop, letterbox, warps, inputs).

Every geometric step is a 2x3 affine matrix, composed and applied once (image bilinear, mask nearest,
points exactly), so masks and keypoints never drift from the pixels. The same matrices place an image on
the model canvas at inference and map scores back to the input frame.
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
