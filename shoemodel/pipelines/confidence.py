"""How sure each stage was, in numbers a user can read next to the pictures.

WD: the margin between the best and second-best class probability (0 = a coin toss, 1 = certain),
averaged over the pixels it called shoe, and the share of those pixels with a thin margin. LpS phase 1:
the heatmap peak of each of the 8 foot points, and whether both ankles landed on one point (a model
that never saw such a photo often does that, and then cannot tell left from right).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shoemodel.schemas.classes import BACKGROUND, CLASS_NAMES

THIN_MARGIN = 0.2  # a pixel whose two best classes are closer than this is reported as uncertain
_FOOT_NAMES = ("left_ankle", "left_big_toe", "left_small_toe", "left_heel",
               "right_ankle", "right_big_toe", "right_small_toe", "right_heel")


def wd_confidence(scores: np.ndarray) -> dict[str, Any]:
    """Summary of WD's class probabilities (C, H, W) on the pixels it called shoe (visible or wearable)."""
    top2 = np.sort(scores, axis=0)[-2:]
    margin = top2[1] - top2[0]
    shoe = scores.argmax(0) != BACKGROUND
    if not shoe.any():
        return {"shoe_pixels": 0, "mean_margin": None, "thin_margin_fraction": None}
    per_class = {}
    pred = scores.argmax(0)
    for c in range(scores.shape[0]):
        sel = pred == c
        per_class[CLASS_NAMES[c] if c < len(CLASS_NAMES) else str(c)] = (
            round(float(margin[sel].mean()), 4) if sel.any() else None)
    return {"shoe_pixels": int(shoe.sum()), "mean_margin": round(float(margin[shoe].mean()), 4),
            "thin_margin_fraction": round(float((margin[shoe] < THIN_MARGIN).mean()), 4),
            "mean_margin_per_class": per_class}


def foot_confidence(foot8: np.ndarray, size: tuple[int, int]) -> dict[str, Any]:
    """Heatmap peaks of the 8 foot points and the ankle gap as a fraction of the canvas diagonal."""
    foot8 = np.asarray(foot8, np.float32)
    diag = float(np.hypot(*size))
    gap = float(np.hypot(*(foot8[0, :2] - foot8[4, :2]))) / diag
    return {"peaks": {n: round(float(v), 4) for n, v in zip(_FOOT_NAMES, foot8[:, 2], strict=True)},
            "min_peak": round(float(foot8[:, 2].min()), 4),
            "ankle_gap": round(gap, 4),
            "ankles_on_one_point": bool(gap < 0.02)}


def summary_lines(conf: dict[str, Any]) -> list[str]:
    """Short text lines for the contact sheet."""
    lines = []
    wd = conf.get("wd")
    if wd and wd.get("mean_margin") is not None:
        lines.append(f"WD margin {wd['mean_margin']:.2f}, thin {100 * wd['thin_margin_fraction']:.0f}%"
                     + (f"; {wd['holes_filled']} px WD called background inside the shoe kept as shoe"
                        if wd.get("holes_filled") else ""))
    elif wd is None:
        lines.append(f"WD: not run ({conf.get('classes_from', '?')})")
    foot = conf.get("foot")
    if foot:
        lines.append(f"phase-1 peak min {foot['min_peak']:.2f}")
        if foot["ankles_on_one_point"]:
            lines.append("ankles on one point: left/right unsure")
    return lines
