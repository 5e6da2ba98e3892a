"""Wearable-area classes (paper §3.1, Table 1): names, ids and display colours."""

from __future__ import annotations

import numpy as np

BACKGROUND, VISIBLE, WEARABLE = 0, 1, 2
CLASS_NAMES: tuple[str, ...] = ("background", "visible", "wearable")
NUM_CLASSES = len(CLASS_NAMES)
#: Colours as in the paper's figures: background black, visible blue, wearable yellow.
CLASS_COLORS: tuple[tuple[int, int, int], ...] = ((0, 0, 0), (0, 0, 255), (255, 255, 0))
CLASS_HEX: tuple[str, ...] = tuple("#{:02x}{:02x}{:02x}".format(*c) for c in CLASS_COLORS)

#: The 2-class ablation of Table 5: wearable vs everything else.
TWO_CLASS_NAMES: tuple[str, ...] = ("other", "wearable")


def to_two_class(mask: np.ndarray) -> np.ndarray:
    """Map a 3-class mask to the 2-class ablation (1 = wearable, 0 = other)."""
    return (np.asarray(mask) == WEARABLE).astype(np.uint8)


def colorize(mask: np.ndarray) -> np.ndarray:
    """Render a class-id mask (H, W) as an RGB image (H, W, 3) with the class colours."""
    palette = np.asarray(CLASS_COLORS, dtype=np.uint8)
    m = np.asarray(mask)
    if m.size and int(m.max()) >= NUM_CLASSES:
        raise ValueError(f"mask holds class id {int(m.max())}; valid ids are 0..{NUM_CLASSES - 1}")
    return palette[m]


def wearable_shoe_image(shoe_image: np.ndarray, area_mask: np.ndarray) -> np.ndarray:
    """X_w: the shoe image with background and wearable area blacked out (only visible area kept)."""
    img = np.asarray(shoe_image)
    keep = np.asarray(area_mask) == VISIBLE
    return np.where(keep[..., None], img, 0).astype(img.dtype)
