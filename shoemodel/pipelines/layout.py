"""Place the shoe on the generation canvas, with the custom layout of §5.3 (scale, rotate, translate).

The photo and its class mask move together (bilinear for pixels, nearest for classes), so X_w and the
paste-back mask are cut from the same placed pixels and stay pixel-exact.
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


def place(rgb: np.ndarray, classes: np.ndarray, size: tuple[int, int], layout: ShoeLayout = ShoeLayout(),
          fill: tuple[int, int, int] = (0, 0, 0)) -> tuple[np.ndarray, np.ndarray]:
    """Fit the photo into a canvas of size=(w, h) and apply the layout; returns (rgb, classes) on the canvas."""
    h, w = rgb.shape[:2]
    coeffs = _affine_inverse((w, h), size, layout)
    img = Image.fromarray(np.ascontiguousarray(rgb)).transform(size, Image.AFFINE, coeffs, Image.BILINEAR, fillcolor=fill)
    cls = Image.fromarray(np.ascontiguousarray(classes.astype(np.uint8))).transform(size, Image.AFFINE, coeffs,
                                                                                     Image.NEAREST, fillcolor=0)
    return np.asarray(img), np.asarray(cls)
