"""Shoe-mask quality checks, each with its own drop reason and its numbers in the record's QC field.

Every rule is relative to the foot it was prompted for, so it holds at any image size:
- `box_fill`: a mask that fills its prompt box is the box, not a shoe (GrabCut's failure mode on trousers); it
  fails only when the mask also fills its own bounding box (`own_box_fill`, a shoe fills ~0.6-0.75 of it): a
  shoe-shaped mask larger than a box drawn from foot points that sit on the instep is a shoe, not the box;
- `foot_area_ratio`: mask area / the expected foot area; a speck far below it is not a shoe. The expected
  foot is `expected_foot_area` below: a shoe seen from the side is about 0.35 x its length squared, and its
  length is at least the ankle-to-toe distance and at least `min_foot_length_frac` of the person box height
  (a foot seen end-on is short in the image, a shoe is never a few pixels of a tall person);
- `other_foot_frac`: share of the mask nearer to the other foot (its keypoints and the lines between them) than
  to this foot (two shoes in one); not a reason to drop when the ankles are nearer than a foot length (one
  foot in front of the other: both feet's points lie on the same pixels);
- `above_ankle_frac`: share of the mask above the ankle along the leg (a calf, a trouser leg, a sock);
- `thickness_ratio`: mean thickness (area / long side of its rotated bounding box) / long side; a shoe is
  about a third as high as long, a seed line or a strap of floor is a few percent;
- components after removing specks, and the older calf-band overlap.
"""

from __future__ import annotations

import numpy as np

from shoemodel.curation.config import SegmentConfig
from shoemodel.curation.prompts import FootPrompt

SHOE_ASPECT = 0.35  # side-view shoe area / length^2 (a shoe is about a third as high as it is long)


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


def expected_foot_area(prompt: FootPrompt, min_length_frac: float) -> float:
    """The area a shoe of this foot should cover in pixels (see the module docstring), at least 16."""
    length = prompt.foot_length
    if prompt.person_box is not None:
        length = max(length, min_length_frac * float(prompt.person_box[3] - prompt.person_box[1]))
    return max(SHOE_ASPECT * length ** 2, 16.0)


def above_ankle_fraction(mask: np.ndarray, prompt: FootPrompt) -> float | None:
    """Share of mask pixels above the ankle point along the ankle->knee direction (None without an ankle)."""
    if "ankle" not in prompt.parts or not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    up, ankle = prompt.leg_up, prompt.parts["ankle"]
    return float(np.mean((xs - ankle[0]) * up[0] + (ys - ankle[1]) * up[1] > 0))


def foot_samples(points: np.ndarray, per_segment: int = 8) -> np.ndarray:
    """Points along every segment between a foot's keypoints: nearness to a foot is nearness to its shape."""
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    t = np.linspace(0, 1, per_segment, dtype=np.float32)[:, None]
    out = [pts] + [pts[i] + t * (pts[j] - pts[i]) for i in range(len(pts)) for j in range(i + 1, len(pts))]
    return np.concatenate(out)


#: Pixels a share is measured on at most (a SAM mask of a 12 MP photo has ~10^5): the QC cost stays per
#: foot, not per pixel, and the share is known to well under 1 %.
MAX_SAMPLED_PIXELS = 16384


def other_foot_fraction(mask: np.ndarray, prompt: FootPrompt) -> float | None:
    """Share of mask pixels nearer to the other foot's points than to this foot's (None without the other foot)."""
    own = [v for k, v in prompt.parts.items() if k != "knee"]
    if prompt.other is None or not len(prompt.other) or not own or not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    step = max(1, len(xs) // MAX_SAMPLED_PIXELS)  # a share: evenly strided pixels measure it to ~1/sqrt(n)
    xs, ys = xs[::step].astype(np.float32), ys[::step].astype(np.float32)
    d_own, d_other = nearest(xs, ys, foot_samples(np.stack(own))), nearest(xs, ys, foot_samples(prompt.other))
    return float(np.mean(d_other < d_own))


def nearest(xs: np.ndarray, ys: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Distance of each (x, y) to the nearest of `pts` (one pass per point: no pixels x points array)."""
    best = np.full(xs.shape, np.inf, np.float32)
    for px, py in pts:
        np.minimum(best, np.hypot(xs - px, ys - py), out=best)
    return best


def thickness_ratio(mask: np.ndarray) -> float:
    """Mean thickness over length of the mask (area / long side of its minimum-area rectangle, over that side)."""
    import cv2

    area = int(np.count_nonzero(mask))
    if area < 3:
        return 0.0
    # the rectangle of the pixels is the rectangle of their outline (the same hull): far fewer points
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    (_, _), (w, h), _ = cv2.minAreaRect(np.concatenate(contours).reshape(-1, 2).astype(np.float32))
    long_side = max(w, h, 1.0)
    return float(area / long_side / long_side)


def check_mask(mask: np.ndarray, prompt: FootPrompt, cfg: SegmentConfig) -> tuple[np.ndarray, str | None, dict]:
    """(cleaned mask, reason it fails or None, measured numbers)."""
    m, n_comp = clean_components(mask)
    x1, y1, x2, y2 = prompt.box
    box_area = max((x2 - x1) * (y2 - y1), 1.0)
    area = float(m.sum())
    stats: dict = {"area": int(area), "box_fill": round(area / box_area, 4), "components": n_comp,
                   "foot_area_ratio": round(area / expected_foot_area(prompt, cfg.min_foot_length_frac), 4)}
    above, other = above_ankle_fraction(m, prompt), other_foot_fraction(m, prompt)
    if above is not None:
        stats["above_ankle_frac"] = round(above, 4)
    if other is not None:
        stats["other_foot_frac"] = round(other, 4)
    if area == 0:
        return m, "empty mask", stats
    ys, xs = np.nonzero(m)
    stats["own_box_fill"] = round(area / float((np.ptp(xs) + 1) * (np.ptp(ys) + 1)), 4)
    if stats["box_fill"] > cfg.max_box_fill and stats["own_box_fill"] > cfg.max_box_fill:
        return m, f"mask fills its prompt box ({stats['box_fill']:.2f} > {cfg.max_box_fill})", stats
    if stats["foot_area_ratio"] < cfg.min_foot_area_ratio:
        return m, f"speck: {stats['foot_area_ratio']:.3f} of the expected foot area", stats
    stats["thickness_ratio"] = round(thickness_ratio(m), 4)
    if stats["thickness_ratio"] < cfg.min_thickness_ratio:
        return m, f"thin: {stats['thickness_ratio']:.3f} thickness / length", stats
    if n_comp > cfg.max_components:
        return m, f"mask has {n_comp} components", stats
    if prompt.feet_overlap:
        stats["feet_overlap"] = True  # one foot in front of the other: nearness to their points says nothing
    if other is not None and other > cfg.max_other_foot_frac and not prompt.feet_overlap:
        return m, f"mask covers the other foot ({other:.2f})", stats
    if above is not None and above > cfg.max_above_ankle_frac:
        return m, f"mask mostly above the ankle ({above:.2f})", stats
    if prompt.calf is not None:
        width = max(0.5 * float(max(prompt.box[2] - prompt.box[0], prompt.box[3] - prompt.box[1])), 2.0)  # a calf ~ half a foot box wide
        overlap = float((m & calf_band(prompt.calf, m.shape, width)).sum()) / area
        stats["leg_overlap"] = round(overlap, 4)
        if overlap > cfg.max_leg_overlap:
            return m, f"mask covers the calf ({overlap:.2f})", stats
    return m, None, stats
