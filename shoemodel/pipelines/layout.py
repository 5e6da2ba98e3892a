"""Place the shoe on the generation canvas, with the custom layout of §5.3 (scale, rotate, translate).

The photo and its class mask move together (bilinear for pixels, nearest for classes), so X_w and the
paste-back mask are cut from the same placed pixels. When the move is a whole-pixel shift (the default
layout on a canvas of the photo's own size), pixels are copied, not resampled: the canvas then holds the
photo's own pixel values exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class ShoeLayout:
    """scale: relative to fitting the photo in the canvas; rotate: degrees counter-clockwise;
    tx, ty: shift as a fraction of the canvas width/height (positive = right/down)."""

    scale: float = 1.0
    rotate: float = 0.0
    tx: float = 0.0
    ty: float = 0.0


def _affine_inverse(src: tuple[int, int], dst: tuple[int, int], layout: ShoeLayout) -> tuple[float, ...]:
    """PIL's inverse affine (output pixel -> input pixel) for fit-to-canvas, then scale/rotate about the centre, then shift."""
    sw, sh = src
    dw, dh = dst
    s = min(dw / sw, dh / sh) * layout.scale
    a = np.deg2rad(layout.rotate)
    # forward: p_out = c_dst + t + s * R(-a) (p_in - c_src)   (image y points down, so CCW on screen is -a)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    fwd = s * rot
    inv = np.linalg.inv(fwd)
    c_src = np.array([sw / 2, sh / 2])
    c_dst = np.array([dw / 2 + layout.tx * dw, dh / 2 + layout.ty * dh])
    off = c_src - inv @ c_dst
    return (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1])


def whole_pixel_shift(src: tuple[int, int], dst: tuple[int, int], layout: ShoeLayout) -> tuple[int, int] | None:
    """(dx, dy) in source pixels when the placement is a pure shift (no scale, no rotation), else None.

    A sub-pixel remainder of the shift is rounded away: invisible, and it keeps the pixels exact.
    """
    a, b, c, d, e, f = _affine_inverse(src, dst, layout)
    if max(abs(a - 1), abs(b), abs(d), abs(e - 1)) > 1e-9:
        return None
    return int(round(c)), int(round(f))


def _shifted(arr: np.ndarray, size: tuple[int, int], shift: tuple[int, int], fill: object) -> np.ndarray:
    """Canvas of size=(w, h) whose pixel (x, y) is arr[y + dy, x + dx] (fill outside arr)."""
    w, h = size
    dx, dy = shift
    out = np.empty((h, w, *arr.shape[2:]), arr.dtype)
    out[...] = fill
    sh, sw = arr.shape[:2]
    x0, y0 = max(0, -dx), max(0, -dy)
    x1, y1 = min(w, sw - dx), min(h, sh - dy)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = arr[y0 + dy:y1 + dy, x0 + dx:x1 + dx]
    return out


def place_image(rgb: np.ndarray, size: tuple[int, int], layout: ShoeLayout = ShoeLayout(),
                fill: tuple[int, int, int] = (0, 0, 0)) -> tuple[np.ndarray, bool]:
    """The photo on a canvas of size=(w, h); returns (canvas, exact) where exact = pixels copied, not resampled."""
    h, w = rgb.shape[:2]
    shift = whole_pixel_shift((w, h), size, layout)
    if shift is not None:
        return _shifted(np.ascontiguousarray(rgb), size, shift, np.asarray(fill, np.uint8)), True
    coeffs = _affine_inverse((w, h), size, layout)
    img = Image.fromarray(np.ascontiguousarray(rgb))
    a, b, c, d, e, f = coeffs
    box = (c, f, c + a * size[0], f + e * size[1])
    if abs(b) < 1e-9 and abs(d) < 1e-9 and a > 0 and e > 0 and box[0] >= -1e-6 and box[1] >= -1e-6 \
            and box[2] <= w + 1e-6 and box[3] <= h + 1e-6:  # a plain rescale inside the photo: antialiased
        box = (max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3]))
        return np.asarray(img.resize(size, Image.LANCZOS, box=box)), False
    return np.asarray(img.transform(size, Image.AFFINE, coeffs, Image.BILINEAR, fillcolor=fill)), False


def place_classes(classes: np.ndarray, size: tuple[int, int], layout: ShoeLayout = ShoeLayout()) -> np.ndarray:
    """The class mask on the canvas (nearest). The mask may be smaller than the photo (a working copy):
    placement is relative to the source's own size, so the two land on the same canvas pixels."""
    h, w = classes.shape[:2]
    cls = np.ascontiguousarray(classes.astype(np.uint8))
    shift = whole_pixel_shift((w, h), size, layout)
    if shift is not None:
        return _shifted(cls, size, shift, 0)
    coeffs = _affine_inverse((w, h), size, layout)
    return np.asarray(Image.fromarray(cls).transform(size, Image.AFFINE, coeffs, Image.NEAREST, fillcolor=0))


def place(rgb: np.ndarray, classes: np.ndarray, size: tuple[int, int], layout: ShoeLayout = ShoeLayout(),
          fill: tuple[int, int, int] = (0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Fit the photo into a canvas of size=(w, h) and apply the layout; returns (rgb, classes) on the canvas."""
    return place_image(rgb, size, layout, fill)[0], place_classes(classes, size, layout)
