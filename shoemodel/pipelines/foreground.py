"""The shoe's foreground mask in a product photo: a given mask, a simple studio-background remover, or SAM.

Product shots have a plain, light, nearly uniform background, so the border colour is a good
background model; SAM (when a checkpoint is given) refines the shape with the fallback's box as prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask file as bool (H, W): any non-zero pixel is foreground; resized (nearest) to size=(w, h) if given."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L")
        if size is not None and im.size != tuple(size):
            im = im.resize(tuple(size), Image.NEAREST)
        return np.asarray(im) > 0


def remove_studio_background(rgb: np.ndarray, threshold: float | None = None, border: int = 2,
                             min_fraction: float = 0.01) -> np.ndarray:
    """Foreground = pixels far from the border colour, closed, holes filled, small specks dropped; bool (H, W)."""
    from scipy import ndimage

    img = np.asarray(rgb, dtype=np.float32)
    h, w = img.shape[:2]
    b = max(1, min(border, h // 4, w // 4))
    edge = np.concatenate([img[:b].reshape(-1, 3), img[-b:].reshape(-1, 3), img[:, :b].reshape(-1, 3),
                           img[:, -b:].reshape(-1, 3)])
    bg = np.median(edge, axis=0)
    spread = np.median(np.linalg.norm(edge - bg, axis=1))
    # Gradient backgrounds vary smoothly: compare with a blurred background estimate as well as the border colour.
    dist = np.linalg.norm(img - bg, axis=2)
    thr = threshold if threshold is not None else max(24.0, 4.0 * float(spread) + 12.0)
    fg = dist > thr
    fg = ndimage.binary_closing(fg, structure=np.ones((3, 3)), iterations=2)
    fg = ndimage.binary_fill_holes(fg)
    labels, n = ndimage.label(fg)
    if n == 0:
        return fg
    sizes = ndimage.sum(fg, labels, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= max(min_fraction * h * w, sizes.max() * 0.05)) + 1
    return np.isin(labels, keep)


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box x0, y0, x1, y1 (inclusive-exclusive) of a mask, or None when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def sam_mask(rgb: np.ndarray, checkpoint: str | Path, box: tuple[int, int, int, int], model_type: str | None = None) -> np.ndarray:
    """SAM's best mask for the box prompt; checkpoint = a segment-anything .pth or a transformers SamModel folder."""
    from shoemodel.models.sam import load_sam

    return predict_box(load_sam(checkpoint, model_type), rgb, box)


def predict_box(predictor: Any, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Best-scoring mask of a SAM predictor (ours from `load_sam`, or a model in memory) for one box prompt; bool (H, W)."""
    from shoemodel.models.sam import as_predictor

    sam = as_predictor(predictor)
    sam.set_image(rgb)
    masks, _ = sam.predict(boxes=np.asarray([box], np.float32))
    return masks[0]


def foreground_mask(rgb: np.ndarray, mask_path: str | Path | None = None, sam_checkpoint: str | Path | None = None,
                    sam_model_type: str | None = None) -> np.ndarray:
    """The shoe's foreground: the given mask, else SAM (box from the fallback) if a checkpoint is given, else the fallback."""
    h, w = rgb.shape[:2]
    if mask_path is not None:
        return load_mask(mask_path, (w, h))
    fallback = remove_studio_background(rgb)
    if sam_checkpoint is None:
        return fallback
    box = mask_box(fallback) or (0, 0, w, h)
    return sam_mask(rgb, sam_checkpoint, box, sam_model_type)
