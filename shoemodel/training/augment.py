"""Random augmentation of WD and LpS phase 1 training samples (paper §3.1, §3.2).

All randomness comes from the `np.random.Generator` passed in, which the trainers seed per (step, sample)
for exact resume; the affine matrices compose with `shoemodel.models.geometry`.
"""

from __future__ import annotations

import cv2
import numpy as np

from shoemodel.models.geometry import compose


def random_affine(size: int, rng: np.random.Generator, *, rotate_prob: float = 0.5, rotate_deg: float = 15.0,
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


def random_backdrop(size: tuple[int, int], rng: np.random.Generator, light_to_dark: tuple[float, float] = (0.0, 255.0)
                    ) -> np.ndarray:
    """A studio backdrop of size=(w, h): solid, gradient, vignette or soft texture, any brightness from
    black to white (mostly neutral, sometimes tinted), with mild grain. WD must learn "background" from the
    scene, not from "bright": product photos come on white, grey and black sweeps alike."""
    w, h = size
    level = rng.uniform(*light_to_dark)
    tint = rng.normal(0, 8, 3) if rng.random() < 0.75 else rng.normal(0, 45, 3)
    base = np.clip(level + tint, 0, 255).astype(np.float32)
    kind = rng.choice(4, p=[0.35, 0.35, 0.15, 0.15])
    if kind == 0:  # solid
        img = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    elif kind == 1:  # linear gradient at a random angle
        other = np.clip(base + rng.uniform(-70, 70), 0, 255)
        a = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = (np.cos(a) * xx / max(w, 1) + np.sin(a) * yy / max(h, 1))
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        img = (1 - t[..., None]) * base + t[..., None] * other
    elif kind == 2:  # vignette: lighter centre, darker corners (or the reverse)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot((xx - w / 2) / max(w, 1), (yy - h / 2) / max(h, 1)) / 0.7071
        img = base + rng.uniform(-60, 60) * r[..., None]
    else:  # low-frequency texture (paper, cloth, concrete)
        cells = int(rng.integers(3, 9))
        coarse = rng.normal(0, rng.uniform(8, 30), (cells, cells, 3)).astype(np.float32)
        img = base + cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    k = int(rng.integers(0, 6))
    if k:
        img = img + rng.integers(-k, k + 1, size=(h, w, 1)).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def replace_background(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo with every background pixel (mask 0) replaced by a random backdrop; shoe pixels kept."""
    h, w = img.shape[:2]
    back = random_backdrop((w, h), rng)
    return np.where((np.asarray(mask) > 0)[..., None], img, back).astype(np.uint8)
