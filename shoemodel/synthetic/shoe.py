"""A procedural shoe: random style parameters and its outline polygons in a canonical frame.

Canonical frame: side view, toe towards +x, sole resting on y = 0, up is -y, length 1.
The collar opening (where a leg goes in) is the wearable area; everything else of the shoe is
visible area. Keeping the geometry as polygons gives exact masks when rasterised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STYLES = ("sneaker", "boot", "loafer", "high_top")


@dataclass
class ShoeStyle:
    """Random style of one shoe (shape and appearance)."""

    kind: str
    height: float  # collar height relative to length
    sole: float  # sole thickness
    toe_rise: float  # how high the toe box rises
    opening_start: float  # x where the collar opening starts (from the heel)
    opening_end: float
    opening_depth: float
    upper_rgb: tuple[int, int, int]
    sole_rgb: tuple[int, int, int]
    lining_rgb: tuple[int, int, int]
    accent_rgb: tuple[int, int, int]
    stripes: int
    logo: str  # none | disc | swoosh | bar
    caption: str


_COLOR_NAMES = {
    "black": (25, 25, 28), "white": (235, 235, 232), "red": (200, 35, 40), "blue": (40, 70, 190),
    "green": (40, 140, 70), "brown": (120, 75, 40), "grey": (130, 130, 135), "pink": (230, 130, 170),
    "yellow": (235, 200, 40), "navy": (25, 35, 80), "orange": (235, 120, 30), "beige": (210, 190, 150),
}


def random_style(rng: np.random.Generator) -> ShoeStyle:
    """Draw a shoe style; every parameter range keeps the opening inside the upper."""
    kind = STYLES[rng.integers(len(STYLES))]
    height = {"sneaker": 0.32, "boot": 0.62, "loafer": 0.24, "high_top": 0.45}[kind] * rng.uniform(0.85, 1.15)
    names = list(_COLOR_NAMES)
    upper_name = names[rng.integers(len(names))]
    sole_name = ["white", "black", "beige", "grey"][rng.integers(4)]
    accent_name = names[rng.integers(len(names))]
    jitter = rng.integers(-20, 21, size=3)
    upper = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(_COLOR_NAMES[upper_name], jitter))
    lining = tuple(int(c) for c in rng.integers(40, 200, size=3))
    start = rng.uniform(0.08, 0.16)
    end = start + rng.uniform(0.28, 0.40) if kind != "boot" else start + rng.uniform(0.30, 0.42)
    logo = ("none", "disc", "swoosh", "bar")[rng.integers(4)]
    caption = f"a person wearing {upper_name} {kind.replace('_', ' ')}s with a {sole_name} sole"
    return ShoeStyle(
        kind=kind, height=float(height), sole=float(rng.uniform(0.05, 0.09)), toe_rise=float(rng.uniform(0.10, 0.16)),
        opening_start=float(start), opening_end=float(end), opening_depth=float(rng.uniform(0.05, 0.09)),
        upper_rgb=upper, sole_rgb=_COLOR_NAMES[sole_name], lining_rgb=lining,  # type: ignore[arg-type]
        accent_rgb=_COLOR_NAMES[accent_name], stripes=int(rng.integers(0, 4)), logo=logo, caption=caption,
    )


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 12) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


@dataclass
class ShoeGeometry:
    """Canonical polygons of a shoe (N, 2 arrays) plus its 4 foot keypoints in the same frame."""

    sole: np.ndarray
    upper: np.ndarray  # whole upper silhouette including the opening region
    opening: np.ndarray  # collar opening = wearable area
    ankle: np.ndarray
    big_toe: np.ndarray
    small_toe: np.ndarray
    heel: np.ndarray

    def transformed(self, matrix: np.ndarray) -> ShoeGeometry:
        """Apply a 2x3 affine matrix to every polygon and point."""

        def tf(p: np.ndarray) -> np.ndarray:
            p = np.atleast_2d(p)
            out = p @ matrix[:, :2].T + matrix[:, 2]
            return out

        return ShoeGeometry(*(tf(getattr(self, f)) for f in ("sole", "upper", "opening", "ankle", "big_toe", "small_toe", "heel")))


def shoe_geometry(style: ShoeStyle) -> ShoeGeometry:
    """Outline polygons of `style` in the canonical frame."""
    s, h = style.sole, style.height
    sole = np.array([[0.0, 0.0], [0.97, 0.0], [1.0, -0.3 * s], [0.99, -s], [0.02, -s], [0.0, -0.5 * s]])
    x0, x1 = style.opening_start, style.opening_end
    heel_top = np.array([0.02, -h])
    collar_front = np.array([x1 + 0.04, -h * 0.92])
    toe_top = np.array([0.93, -s - style.toe_rise * 0.6])
    vamp = _bezier(collar_front, np.array([x1 + 0.25, -s - style.toe_rise * 1.3]), toe_top)
    toe = _bezier(toe_top, np.array([1.02, -s - style.toe_rise * 0.5]), np.array([0.99, -s]), 6)
    heel_back = _bezier(np.array([0.01, -s]), np.array([-0.04, -h * 0.5]), heel_top, 8)
    upper = np.vstack([heel_back, vamp, toe, [[0.02, -s]]])
    # Opening: an ellipse-like band just under the collar line, between x0 and x1.
    t = np.linspace(0, np.pi, 16)
    cx, half = (x0 + x1) / 2, (x1 - x0) / 2
    top_y = -h * 0.97
    top = np.stack([cx - half * np.cos(t), np.full_like(t, top_y) - 0.012 * np.sin(t)], 1)
    bottom = np.stack([cx + half * np.cos(t), top_y + style.opening_depth * np.sin(t)], 1)
    opening = np.vstack([top, bottom])
    ankle = np.array([[cx - 0.02, top_y + style.opening_depth * 0.5]])
    return ShoeGeometry(
        sole=sole, upper=upper, opening=opening, ankle=ankle,
        big_toe=np.array([[0.95, -s * 1.3]]), small_toe=np.array([[0.86, -s * 1.2]]), heel=np.array([[0.03, -s * 0.6]]),
    )
