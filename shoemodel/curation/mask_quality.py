"""A quality score in [0, 1] for every kept person's shoe masks, its parts, and foot points refined from the mask.

Parts per foot (each in [0, 1]; those that were not measured are left out and the weights renormalised):
- `point_conf`: the pose's mean score of the foot's points (ankle, heel, toes);
- `prior_iou`: agreement of the mask with the shoe prior's mask of that foot (any backend; the prior's own
  masks agree with themselves, so for them `prior_sure` carries the signal);
- `prior_sure`: how sure the prior is that the mask's pixels are shoe (mean of max(2p - 1, 0) over the mask: near 1
  when every pixel is clearly shoe, near 0 on a blurred guess or on pixels the prior calls not-shoe);
- `points_in_mask`: share of the foot's heel/toe points inside the mask grown by a tenth of the foot length;
- `qc`: the QC numbers as one term: (1 - above-ankle share) x (1 - other-foot share) x min(1, thickness / 0.25);
- `sam_iou`, `sam_stability`: SAM's predicted IoU and stability score, when SAM made the mask.
A person's quality is the mean over its kept feet; `curation.segment.min_quality` drops a person below it (with
`quality_floor: foot`, a foot below it while its pair stays).
"""

from __future__ import annotations

import numpy as np

from shoemodel.curation.prompts import FootPrompt

#: Weights of the parts (chosen on the CCP val split, never test: a grid over 0/1/2/4 per part maximising Spearman
#: between quality and IoU >= 0.5; points_in_mask and qc did not rank there and are recorded, not weighted; SAM's two
#: parts are not tuned: no SAM weights here).
WEIGHTS = {"prior_iou": 0.4, "prior_sure": 0.4, "point_conf": 0.2, "points_in_mask": 0.0, "qc": 0.0,
           "sam_iou": 0.2, "sam_stability": 0.1}


def combine(parts: dict[str, float]) -> float:
    """Weighted mean of the measured parts (WEIGHTS), in [0, 1]."""
    used = {k: v for k, v in parts.items() if WEIGHTS.get(k) and v is not None}
    if not used:
        return 0.0
    return float(sum(WEIGHTS[k] * float(np.clip(v, 0, 1)) for k, v in used.items()) / sum(WEIGHTS[k] for k in used))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = int((a | b).sum())
    return float((a & b).sum() / u) if u else 0.0


def prior_sure(mask: np.ndarray, prob: np.ndarray | None) -> float | None:
    """Mean max(2p - 1, 0) of the prior's shoe probability over the mask's pixels (None without a prior map)."""
    if prob is None or not mask.any():
        return None
    return float(np.clip(2 * prob[mask] - 1, 0, 1).mean())


def heel_toe(p: FootPrompt) -> dict[str, np.ndarray]:
    return {n: v for n, v in p.parts.items() if n in ("heel", "big_toe", "small_toe")}


def points_in_mask(mask: np.ndarray, p: FootPrompt) -> float | None:
    """Share of the foot's heel/toe points inside the mask grown by 0.1 x the foot length."""
    pts = heel_toe(p)
    if not pts or not mask.any():
        return None
    tol = 0.1 * max(p.foot_length, 8.0)
    ys, xs = np.nonzero(mask)
    step = max(1, len(xs) // 8192)
    xs, ys = xs[::step].astype(np.float32), ys[::step].astype(np.float32)
    return float(np.mean([np.min(np.hypot(xs - x, ys - y)) <= tol for x, y in pts.values()]))


def qc_term(stats: dict) -> float:
    above = float(stats.get("above_ankle_frac") or 0.0)
    other = 0.0 if stats.get("feet_overlap") else float(stats.get("other_foot_frac") or 0.0)
    thick = float(stats.get("thickness_ratio", 0.25))
    return float((1 - above) * (1 - other) * min(1.0, thick / 0.25))


def foot_quality(mask: np.ndarray, p: FootPrompt, stats: dict, prior_mask: np.ndarray | None = None,
                 prior_prob: np.ndarray | None = None, sam: dict | None = None) -> tuple[float, dict[str, float]]:
    """(score, parts) of one foot's cleaned mask (module docstring)."""
    parts: dict[str, float] = {}
    if p.scores:
        parts["point_conf"] = float(np.mean(list(p.scores.values())))
    if prior_mask is not None:
        parts["prior_iou"] = iou(mask, prior_mask)
    sure = prior_sure(mask, prior_prob)
    if sure is not None:
        parts["prior_sure"] = sure
    inside = points_in_mask(mask, p)
    if inside is not None:
        parts["points_in_mask"] = inside
    parts["qc"] = qc_term(stats)
    for k in ("sam_iou", "sam_stability"):
        if sam and sam.get(k) is not None:
            parts[k] = float(sam[k])
    parts = {k: round(float(v), 4) for k, v in parts.items()}
    return round(combine(parts), 4), parts


#: The band of the mask's pixels along the foot axis whose median is the refined heel (percentiles from the heel end;
#: the toe: the same from the toe end). 5-15 chosen on the CCP val split: heel/toe on the shoe 0.86 with the last 5 %
#: (the very end is the mask's rim: floor, ankle), 0.90 with 5-15 and 10-25, 0.91 with 15-30 (a heel that far in
#: is no longer where the heel is).
END_BAND = (5.0, 15.0)


def refine_points(k: np.ndarray, side: str, mask: np.ndarray, p: FootPrompt, min_score: float) -> tuple[np.ndarray, list[str]]:
    """Heel and toe of one foot from its mask where the pose is unsure (score < min_score) or the point lies off
    the mask: the heel and the big toe go to the mask's extremes along the foot axis (heel -> toe from the pose,
    else the mask's long axis pointing away from the ankle), the median of its pixels 5-15 % in from each end; a
    small toe (unsure or off the mask) moves to its nearest mask pixel. Every heel/toe point then sits inside the
    mask's interior (the mask eroded by 4 % of the foot length): a point on the mask's rim is a coin toss between
    shoe and floor, one step inwards it is on the shoe. Returns the new (12, 3) keypoints and what moved."""
    from shoemodel.schemas.keypoints import KEYPOINT_NAMES

    out = k.copy()
    if not mask.any():
        return out, []
    ys, xs = np.nonzero(interior(mask, p.foot_length))
    pix = np.stack([xs, ys], 1).astype(np.float32)
    tol = 0.05 * max(p.foot_length, 8.0)

    def on_mask(pt: np.ndarray) -> bool:
        return bool(np.min(np.hypot(*(pix - pt).T)) <= tol)

    idx = {n: KEYPOINT_NAMES.index(f"{side}_{n}") for n in ("heel", "big_toe", "small_toe", "ankle")}
    heel, toe, ankle = p.parts.get("heel"), p.parts.get("big_toe"), p.parts.get("ankle")
    if heel is not None and toe is not None and np.hypot(*(toe - heel)) > 1:
        axis = (toe - heel) / np.hypot(*(toe - heel))
    else:
        c = pix - pix.mean(0)
        w, v = np.linalg.eigh(c.T @ c)
        axis = v[:, -1]
        ref = toe if toe is not None else (pix.mean(0) + (pix.mean(0) - ankle) if ankle is not None else None)
        if ref is not None and float((ref - pix.mean(0)) @ axis) < 0:
            axis = -axis
    proj = pix @ axis
    a, b = END_BAND
    ends = {"heel": _band_median(pix, proj, a, b), "big_toe": _band_median(pix, proj, 100 - b, 100 - a)}
    moved = []
    inside = np.zeros(mask.shape, bool)
    inside[ys, xs] = True
    h, w = mask.shape
    for name in ("heel", "big_toe", "small_toe"):
        j = idx[name]
        if k[j, 2] <= 0:
            continue  # missing points stay missing
        if k[j, 2] >= min_score and on_mask(k[j, :2]):
            new = k[j, :2]  # sure points on the mask stay where the pose put them (moved inwards when on the rim)
        else:
            new = ends[name] if name in ends else k[j, :2]
        xi, yi = int(round(float(new[0]))), int(round(float(new[1])))
        if not (0 <= xi < w and 0 <= yi < h and inside[yi, xi]):
            new = pix[np.argmin(np.hypot(*(pix - new).T))]
        if np.allclose(new, k[j, :2]):
            continue
        out[j] = (float(new[0]), float(new[1]), float(k[j, 2]))
        moved.append(name)
    return out, moved


def _band_median(pix: np.ndarray, proj: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Median of the pixels whose projection lies between the lo-th and hi-th percentiles; on a mask of a few
    pixels that band can hold none, and then the pixels nearest its middle stand in (never a NaN point)."""
    band = (proj >= np.percentile(proj, lo)) & (proj <= np.percentile(proj, hi))
    if not band.any():
        mid = np.percentile(proj, (lo + hi) / 2)
        band = np.abs(proj - mid) == np.abs(proj - mid).min()
    return np.median(pix[band], 0)


def interior(mask: np.ndarray, foot_length: float) -> np.ndarray:
    """The mask eroded by 4 % of the foot length (at least 1 px); the mask itself when that leaves nothing."""
    import cv2

    r = max(1, int(round(0.04 * max(foot_length, 8.0))))
    core = cv2.erode(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    return core if core.any() else mask
