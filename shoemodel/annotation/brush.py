"""3-class masks <-> Label Studio brush results, through label-studio-sdk's own RLE converter.

One brushlabels result per foreground class; pixels no brush covers are background.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from shoemodel.annotation.labeling import FROM_NAME, LABEL_OF, LABELS, PAINT_ORDER, TO_NAME
from shoemodel.schemas.classes import BACKGROUND


class UnknownLabelError(ValueError):
    """An annotation holds a label the wearable-area schema does not know."""


def mask_to_results(mask: np.ndarray) -> list[dict[str, Any]]:
    """Brush results (one per present foreground class) encoding a class-id mask exactly."""
    from label_studio_sdk.converter.brush import mask2rle

    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"expected a 2-D class-id mask, got shape {m.shape}")
    h, w = m.shape
    results = []
    for cid, name in LABEL_OF.items():
        layer = (m == cid).astype(np.uint8) * 255
        if not layer.any():
            continue
        results.append({
            "id": uuid.uuid4().hex[:10],
            "type": "brushlabels",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "original_width": int(w),
            "original_height": int(h),
            "image_rotation": 0,
            "value": {"format": "rle", "rle": [int(v) for v in mask2rle(layer)], "brushlabels": [name]},
        })
    return results


def results_to_mask(results: Iterable[Mapping[str, Any]], width: int, height: int, where: str = "") -> np.ndarray:
    """Paint brush results into a (height, width) class-id mask; unknown labels raise, naming them."""
    from label_studio_sdk.converter.brush import decode_rle

    layers: dict[int, np.ndarray] = {}
    for res in results:
        if res.get("type", "").lower() != "brushlabels" or res.get("from_name", FROM_NAME) != FROM_NAME:
            continue
        value = res.get("value", {})
        names = value.get("brushlabels") or []
        unknown = [n for n in names if n not in LABELS]
        if unknown or not names:
            raise UnknownLabelError(
                f"{where}: label(s) {unknown or names} not in the wearable-area config {sorted(LABELS)}"
            )
        rw, rh = int(res.get("original_width", width)), int(res.get("original_height", height))
        if (rw, rh) != (width, height):
            raise ValueError(f"{where}: brush drawn at {rw}x{rh}, image is {width}x{height}")
        if "rle" not in value:
            raise ValueError(f"{where}: brush result without RLE (format {value.get('format')!r})")
        flat = np.asarray(decode_rle(value["rle"]), dtype=np.uint8)
        if flat.size != width * height * 4:
            raise ValueError(f"{where}: RLE decodes to {flat.size} values, expected {width * height * 4}")
        alpha = flat.reshape(height, width, 4)[:, :, 3] > 0
        cid = LABELS[names[0]]
        layers[cid] = layers[cid] | alpha if cid in layers else alpha
    mask = np.full((height, width), BACKGROUND, dtype=np.uint8)
    for cid in PAINT_ORDER:
        if cid in layers:
            mask[layers[cid]] = cid
    return mask
