"""The shoe's foreground mask in a product photo: a given mask, a simple studio-background remover, or SAM.

Product shots have a plain backdrop (white, grey or black; solid or a smooth sweep), so a colour model
fitted to the frame's border, flood-filled from the border, is a good fallback when no WD is given (and
the check that the photo holds anything at all); SAM (when a checkpoint is given) refines the shape with
the fallback's box as prompt.
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


def _backdrop_model(img: np.ndarray, b: int) -> tuple[np.ndarray, float]:
    """Per-pixel backdrop colour (a plane per channel fitted to the border: solid or gradient sweeps, light
    or dark) and the typical distance of border pixels from it (grain, JPEG noise)."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    edge = np.zeros((h, w), bool)
    edge[:b], edge[-b:], edge[:, :b], edge[:, -b:] = True, True, True, True
    ex, ey = xx[edge].astype(np.float32) / w, yy[edge].astype(np.float32) / h
    design = np.stack([np.ones_like(ex), ex, ey], 1)
    colours = img[edge]
    coef, *_ = np.linalg.lstsq(design, colours, rcond=None)
    resid = np.linalg.norm(colours - design @ coef, axis=1)
    # A shoe touching the frame makes some border pixels outliers: refit on the inliers.
    inl = resid <= max(np.percentile(resid, 75) * 3.0, 6.0)
    if inl.sum() >= 8 and not inl.all():
        coef, *_ = np.linalg.lstsq(design[inl], colours[inl], rcond=None)
        resid = np.linalg.norm(colours[inl] - design[inl] @ coef, axis=1)
    grid = np.stack([np.ones((h, w), np.float32), xx.astype(np.float32) / w, yy.astype(np.float32) / h], -1)
    return grid @ coef.astype(np.float32), float(np.median(resid))


def remove_studio_background(rgb: np.ndarray, threshold: float | None = None, border: int = 2,
                             min_fraction: float = 0.01) -> np.ndarray:
    """Foreground = everything not connected to the frame through backdrop-coloured pixels; bool (H, W).

    Background is decided by colour distance from the fitted backdrop *and* connection to the border, never
    by brightness: a black shoe on white or grey, or a white shoe on black, is kept whole, and shoe parts
    that happen to match the backdrop stay foreground when the shoe encloses them.
    """
    from scipy import ndimage

    img = np.asarray(rgb, dtype=np.float32)[..., :3]
    h, w = img.shape[:2]
    b = max(1, min(border, h // 4, w // 4))
    backdrop, spread = _backdrop_model(img, b)
    dist = np.linalg.norm(img - backdrop, axis=2)
    thr = threshold if threshold is not None else max(24.0, 4.0 * spread + 12.0)
    like_backdrop = dist <= thr
    labels, n = ndimage.label(like_backdrop)  # 4-connected regions of backdrop-coloured pixels
    if n == 0:
        return np.ones((h, w), bool)
    edge_ids = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, edge_ids[edge_ids > 0])
    # Close gaps of about 2 % of the short side (cleats under a white sole on white, thin straps), then fill
    # what the shoe encloses; no opening, which would erase thin dark laces.
    r = max(2, int(round(0.02 * min(h, w))))
    disk = np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= r
    fg = np.pad(~background, r)  # padded so closing does not glue the shoe to the frame
    fg = ndimage.binary_fill_holes(ndimage.binary_closing(fg, structure=disk))[r:-r, r:-r]
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
