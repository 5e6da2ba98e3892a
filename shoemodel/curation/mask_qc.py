"""Shoe-mask quality checks: area against the foot box, connected components, overlap with the calf."""

from __future__ import annotations

import numpy as np

from shoemodel.curation.config import SegmentConfig
from shoemodel.curation.prompts import FootPrompt


def clean_components(mask: np.ndarray, min_frac: float = 0.05) -> tuple[np.ndarray, int]:
    """Drop specks smaller than min_frac of the mask; returns the cleaned mask and its component count."""
    import cv2

    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool), 0
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.where(areas >= min_frac * areas.sum())[0] + 1
    return np.isin(lab, keep), len(keep)


def calf_band(calf: np.ndarray, shape: tuple[int, int], width: float) -> np.ndarray:
    """Pixels within `width` of the segment ankle -> up the calf (ankle end excluded: shoes reach the ankle)."""
    import cv2

    a, b = calf[0] + (calf[1] - calf[0]) * 0.25, calf[1]
    band = np.zeros(shape, np.uint8)
    cv2.line(band, tuple(int(v) for v in a), tuple(int(v) for v in b), 1, max(1, int(width)))
    return band.astype(bool)


def check_mask(mask: np.ndarray, prompt: FootPrompt, cfg: SegmentConfig) -> tuple[np.ndarray, str | None, dict]:
    """(cleaned mask, reason it fails or None, measured numbers)."""
    m, n_comp = clean_components(mask)
    x1, y1, x2, y2 = prompt.box
    box_area = max((x2 - x1) * (y2 - y1), 1.0)
    area = float(m.sum())
    stats = {"area_frac": round(area / box_area, 4), "components": n_comp}
    if area == 0:
        return m, "empty mask", stats
    if not cfg.min_area_frac <= area / box_area <= cfg.max_area_frac:
        return m, f"mask area {area / box_area:.2f} of the foot box", stats
    if n_comp > cfg.max_components:
        return m, f"mask has {n_comp} components", stats
    if prompt.calf is not None:
        width = max(0.5 * float(max(prompt.box[2] - prompt.box[0], prompt.box[3] - prompt.box[1])), 2.0)  # a calf ~ half a foot box wide
        overlap = float((m & calf_band(prompt.calf, m.shape, width)).sum()) / area
        stats["leg_overlap"] = round(overlap, 4)
        if overlap > cfg.max_leg_overlap:
            return m, f"mask covers the calf ({overlap:.2f})", stats
    return m, None, stats
