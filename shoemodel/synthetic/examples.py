"""Synthetic examples with exact ground truth: product photos (wearable-area set) and worn scenes (shoe-leg set).

This is the offline default data and the test bed: every mask and keypoint is known exactly
because it was drawn. It is not a stand-in for real photos; real data goes through curation and
annotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoemodel.schemas.keypoints import NUM_KEYPOINTS
from shoemodel.synthetic.render import (
    L_VISIBLE,
    L_WEARABLE,
    draw_leg,
    draw_shoe,
    gradient_background,
    polygon_mask,
)
from shoemodel.synthetic.shoe import ShoeGeometry, random_style, shoe_geometry

_SKIN = ((241, 194, 167), (224, 172, 138), (198, 134, 98), (141, 85, 54), (92, 58, 38))
_PANTS = ((30, 40, 80), (20, 20, 22), (110, 110, 115), (160, 140, 110), (80, 100, 150), (140, 30, 40))


@dataclass
class ProductExample:
    """An unworn product photo X with its 3-class mask and X_m (shoe on black)."""

    image: np.ndarray  # (H, W, 3) uint8, shoe on a studio background
    area_mask: np.ndarray  # (H, W) uint8: 0 background, 1 visible, 2 wearable
    shoe_image: np.ndarray  # X_m
    shoe_mask: np.ndarray  # (H, W) bool: union of the shoe's polygons, rasterised on their own
    caption: str
    seed: int


@dataclass
class WornExample:
    """A scene of legs wearing a pair (or one) of shoes, with the 12 keypoints and the shoe mask."""

    image: np.ndarray  # (H, W, 3) uint8
    shoe_mask: np.ndarray  # (H, W) bool: visible shoe pixels
    shoe_image: np.ndarray  # X_m: shoe pixels on black
    keypoints: np.ndarray  # (12, 3) float32: x, y, visibility (2 in frame, 0 missing with x = y = 0)
    caption: str
    seed: int


def _affine(length: float, angle_deg: float, mirror: bool, translate: np.ndarray) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    flip = np.diag([-1.0 if mirror else 1.0, 1.0])
    lin = rot @ flip * length
    return np.hstack([lin, translate[:, None]])


def _place(geom: ShoeGeometry, length: float, angle: float, mirror: bool, anchor_canonical: np.ndarray, anchor_px: np.ndarray) -> ShoeGeometry:
    m = _affine(length, angle, mirror, np.zeros(2))
    t = anchor_px - m[:, :2] @ anchor_canonical
    m[:, 2] = t
    return geom.transformed(m)


def make_product_example(seed: int, size: int = 256) -> ProductExample:
    """A studio photo of one shoe (random style, side view, rotation within ±15°, either direction)."""
    rng = np.random.default_rng([seed, 1])
    style = random_style(rng)
    geom = shoe_geometry(style)
    length = rng.uniform(0.55, 0.85) * size
    centre = np.array([size / 2, size / 2]) + rng.uniform(-0.06, 0.06, size=2) * size
    placed = _place(geom, length, rng.uniform(-15, 15), bool(rng.integers(2)), np.array([0.5, -style.height / 2]), centre)
    canvas = gradient_background(rng, (size, size), light=True)
    labels = np.zeros((size, size), np.uint8)
    draw_shoe(canvas, labels, placed, style, rng, worn=False)
    area = np.zeros_like(labels)
    area[labels == L_VISIBLE] = 1
    area[labels == L_WEARABLE] = 2
    shoe_image = np.where((area > 0)[..., None], canvas, 0).astype(np.uint8)
    silhouette = polygon_mask((size, size), placed.upper) | polygon_mask((size, size), placed.sole) | polygon_mask((size, size), placed.opening)
    return ProductExample(canvas, area, shoe_image, silhouette, f"a product photo of {style.caption.split('wearing ')[-1]}", seed)


# Indices into the 12 keypoints per side: hip, knee, ankle, big toe, small toe, heel.
_SIDE_INDEX = {"left": (0, 2, 4, 6, 7, 8), "right": (1, 3, 5, 9, 10, 11)}


def make_worn_example(seed: int, size: int = 256) -> WornExample:
    """Legs wearing shoes in a simple scene: both feet or one, any direction, sometimes cut by the frame."""
    rng = np.random.default_rng([seed, 2])
    style = random_style(rng)
    geom = shoe_geometry(style)
    canvas = gradient_background(rng, (size, size), light=False)
    labels = np.zeros((size, size), np.uint8)
    keypoints = np.zeros((NUM_KEYPOINTS, 3), np.float32)

    length = rng.uniform(0.22, 0.36) * size
    facing_left = bool(rng.integers(2))
    # Facing right, the person's left foot is the one nearer the camera; a mirror swaps that.
    front, back = ("right", "left") if facing_left else ("left", "right")
    n_feet = 1 if rng.random() < 0.25 else 2
    sides = [front] if n_feet == 1 and rng.random() < 0.5 else [back, front][-n_feet:] if n_feet == 1 else [back, front]
    leg_rgb = _SKIN[rng.integers(len(_SKIN))] if rng.random() < 0.4 else _PANTS[rng.integers(len(_PANTS))]
    sock_rgb = tuple(int(c * 0.8) for c in leg_rgb)
    ground = rng.uniform(0.62, 0.95) * size
    centre_x = rng.uniform(0.3, 0.7) * size
    gap = rng.uniform(0.4, 1.1) * length
    out_of_frame = rng.random() < 0.15

    for k, side in enumerate(sides):
        dx = (-gap / 2 if k == 0 else gap / 2) if len(sides) == 2 else 0.0
        anchor = np.array([centre_x + dx, ground - (0 if side == front else rng.uniform(0, 0.06) * size)])
        if out_of_frame and k == len(sides) - 1:
            anchor[0] = size + rng.uniform(-0.1, 0.25) * length if rng.random() < 0.5 else -rng.uniform(-0.1, 0.25) * length
        angle = rng.uniform(-20, 20)
        placed = _place(geom, length, angle, facing_left, np.array([0.5, 0.0]), anchor)
        ankle = placed.ankle[0]
        up = np.array([np.sin(np.deg2rad(angle)), -np.cos(np.deg2rad(angle))])
        calf_dir = _rotate(up, rng.uniform(-25, 25))
        knee = ankle + calf_dir * rng.uniform(1.3, 1.8) * length
        hip = knee + _rotate(calf_dir, rng.uniform(-35, 35)) * rng.uniform(1.3, 1.8) * length
        opening_w = (style.opening_end - style.opening_start) * length
        base = ankle - calf_dir * style.opening_depth * length * 0.3
        draw_leg(canvas, labels, knee, hip, base, widths=(opening_w * 1.05, opening_w * 1.3, opening_w * 1.7), rgb=leg_rgb)
        draw_shoe(canvas, labels, placed, style, rng, worn=True, sock_rgb=sock_rgb)
        points = (hip, knee, ankle, placed.big_toe[0], placed.small_toe[0], placed.heel[0])
        for idx, p in zip(_SIDE_INDEX[side], points):
            keypoints[idx] = (p[0], p[1], 2.0)

    inside = (keypoints[:, 0] >= 0) & (keypoints[:, 0] < size) & (keypoints[:, 1] >= 0) & (keypoints[:, 1] < size)
    keypoints[~(inside & (keypoints[:, 2] > 0))] = 0.0
    shoe_mask = labels == L_VISIBLE
    shoe_image = np.where(shoe_mask[..., None], canvas, 0).astype(np.uint8)
    return WornExample(canvas, shoe_mask, shoe_image, keypoints, style.caption, seed)


def _rotate(v: np.ndarray, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ v
