"""Rasterise procedural shoes and legs with exact per-pixel labels.

Drawing happens on an RGB canvas and, in lock-step, on a label canvas, so the masks are the
ground truth of what was drawn (no anti-aliasing: a pixel belongs to exactly one thing).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from shoemodel.synthetic.shoe import ShoeGeometry, ShoeStyle

# Label codes on the scene label canvas.
L_BG, L_VISIBLE, L_WEARABLE, L_LEG = 0, 1, 2, 3


def _poly(points: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in points]


def polygon_mask(size: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """Boolean (H, W) mask of a filled polygon."""
    im = Image.new("L", size, 0)
    ImageDraw.Draw(im).polygon(_poly(points), fill=1)
    return np.asarray(im, dtype=bool)


def gradient_background(rng: np.random.Generator, size: tuple[int, int], light: bool) -> np.ndarray:
    """A vertical two-colour gradient, light (product studio) or random (scene), with mild grain.

    Built row-wise and in int16 so a 256 px background costs well under a millisecond.
    """
    w, h = size
    if light:
        top = rng.integers(225, 256, size=3)
        bottom = top - rng.integers(5, 30, size=3)
    else:
        top, bottom = rng.integers(30, 230, size=3), rng.integers(30, 230, size=3)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    rows = ((1 - t) * top + t * bottom).astype(np.int16)  # (h, 3)
    if not light:
        floor_y = int(rng.uniform(0.55, 0.85) * h)
        rows[floor_y:] = (rows[floor_y:] * 0.6 + rng.integers(40, 200, size=3) * 0.4).astype(np.int16)
    k = 4 if light else 8
    grain = rng.integers(-k, k + 1, size=((h + 1) // 2, (w + 1) // 2, 3), dtype=np.int16)
    img = rows[:, None, :] + grain.repeat(2, axis=0).repeat(2, axis=1)[:h, :w]
    return np.clip(img, 0, 255).astype(np.uint8)


def _window(shape: tuple[int, int], *polys: np.ndarray, pad: int = 2) -> tuple[int, int, int, int] | None:
    """Integer bounding box (x0, y0, x1, y1) of polygons clipped to the canvas, or None if outside."""
    pts = np.vstack(polys)
    h, w = shape
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + pad
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return None if x0 >= x1 or y0 >= y1 else (int(x0), int(y0), int(x1), int(y1))


def draw_shoe(canvas: np.ndarray, labels: np.ndarray, geom: ShoeGeometry, style: ShoeStyle, rng: np.random.Generator,
              worn: bool, sock_rgb: tuple[int, int, int] = (0, 0, 0)) -> None:
    """Paint one shoe onto `canvas`/`labels` in place (work is limited to the shoe's bounding box).

    Unworn: the collar opening shows the lining (label wearable). Worn: the opening is filled by
    the leg/sock (label leg), so only the visible area carries the shoe label.
    """
    win = _window(labels.shape, geom.upper, geom.sole, geom.opening)
    if win is None:
        return
    x0, y0, x1, y1 = win
    off = np.array([x0, y0], np.float64)
    size = (x1 - x0, y1 - y0)
    upper = polygon_mask(size, geom.upper - off)
    sole = polygon_mask(size, geom.sole - off)
    opening = polygon_mask(size, geom.opening - off)
    shoe_rgb = np.empty((size[1], size[0], 3), np.float32)
    shoe_rgb[:] = style.upper_rgb
    # Stripes and a logo, clipped to the upper.
    paint = Image.new("L", size, 0)
    draw = ImageDraw.Draw(paint)
    heel, toe, ankle = geom.heel[0] - off, geom.big_toe[0] - off, geom.ankle[0] - off
    axis = toe - heel
    up = np.array([axis[1], -axis[0]])  # perpendicular to the sole, towards the collar
    if np.dot(up, ankle - heel) < 0:
        up = -up
    for k in range(style.stripes):
        a = heel + axis * (0.35 + 0.12 * k)
        draw.line([tuple(a), tuple(a + up * 0.8 + axis * 0.15)], fill=1, width=max(1, int(np.linalg.norm(axis) * 0.03)))
    centre = heel + axis * 0.55 + up * 0.12
    r = np.linalg.norm(axis) * 0.06
    if style.logo == "disc":
        draw.ellipse([centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r], fill=2)
    elif style.logo == "swoosh":
        pts = [centre - axis * 0.15, centre + axis * 0.12 + up * 0.08, centre + axis * 0.02 + up * 0.02]
        draw.polygon([tuple(p) for p in pts], fill=2)
    elif style.logo == "bar":
        draw.line([tuple(centre - axis * 0.1), tuple(centre + axis * 0.1)], fill=2, width=max(1, int(r)))
    paint_np = np.asarray(paint)
    shoe_rgb[paint_np == 1] = style.accent_rgb
    shoe_rgb[paint_np == 2] = tuple(255 - c for c in style.accent_rgb)
    shoe_rgb *= rng.uniform(0.9, 1.1)
    shoe_rgb += rng.integers(-6, 7, size=shoe_rgb.shape, dtype=np.int16)
    shoe_rgb[sole] = style.sole_rgb
    if worn:
        opening_rgb = np.broadcast_to(np.asarray(sock_rgb, np.float32), shoe_rgb.shape)
    else:
        opening_rgb = np.broadcast_to(np.asarray(style.lining_rgb, np.float32), shoe_rgb.shape).copy()
        opening_rgb[polygon_mask(size, _shrink(geom.opening - off, 0.7))] *= 0.55
    body = upper | sole
    cv, lb = canvas[y0:y1, x0:x1], labels[y0:y1, x0:x1]
    cv[body] = np.clip(shoe_rgb[body], 0, 255).astype(np.uint8)
    lb[body] = L_VISIBLE
    cv[opening] = np.clip(opening_rgb[opening], 0, 255).astype(np.uint8)
    lb[opening] = L_LEG if worn else L_WEARABLE


def _shrink(points: np.ndarray, factor: float) -> np.ndarray:
    c = points.mean(axis=0)
    return c + (points - c) * factor


def leg_polygon(p0: np.ndarray, p1: np.ndarray, w0: float, w1: float) -> np.ndarray:
    """A tapered quad from p0 (width w0) to p1 (width w1)."""
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-6)
    return np.array([p0 + n * w0 / 2, p1 + n * w1 / 2, p1 - n * w1 / 2, p0 - n * w0 / 2])


def draw_leg(canvas: np.ndarray, labels: np.ndarray, knee: np.ndarray, hip: np.ndarray,
             base: np.ndarray, *, widths: tuple[float, float, float], rgb: tuple[int, int, int]) -> None:
    """Paint a leg (base of calf inside the shoe -> knee -> hip) in place, labelled as leg.

    Like `draw_shoe`, the work is limited to the leg's bounding box.
    """
    h, w = labels.shape
    wa, wk, wh = widths
    calf, thigh = leg_polygon(base, knee, wa, wk), leg_polygon(knee, hip, wk, wh)
    r = wk / 2
    win = _window((h, w), calf, thigh, np.array([knee - r, knee + r]))
    if win is None:
        return
    x0, y0, x1, y1 = win
    off = np.array([x0, y0], np.float64)
    size = (x1 - x0, y1 - y0)
    im = Image.new("L", size, 0)
    draw = ImageDraw.Draw(im)
    draw.polygon(_poly(calf - off), fill=1)
    draw.polygon(_poly(thigh - off), fill=1)
    draw.ellipse([knee[0] - r - x0, knee[1] - r - y0, knee[0] + r - x0, knee[1] + r - y0], fill=1)
    m = np.asarray(im, dtype=bool)
    shade = np.linspace(0.85, 1.1, w, dtype=np.float32)[x0:x1, None]  # light from the right, in image coordinates
    col = np.clip(np.asarray(rgb, np.float32) * shade, 0, 255).astype(np.uint8)  # (x1 - x0, 3)
    canvas[y0:y1, x0:x1][m] = np.broadcast_to(col[None], (y1 - y0, x1 - x0, 3))[m]
    labels[y0:y1, x0:x1][m] = L_LEG
