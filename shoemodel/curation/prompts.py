"""SAM prompts per foot from the 12 keypoints: a box around ankle/toes/heel, positives on the foot, a negative on the calf."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shoemodel.schemas.keypoints import KEYPOINT_NAMES


@dataclass
class FootPrompt:
    """Prompts for one foot, in image pixels; labels 1 = shoe, 0 = not shoe."""

    side: str
    box: np.ndarray  # x1, y1, x2, y2
    points: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,)
    calf: np.ndarray | None  # (2, 2): ankle and a point up the calf, for the leg-overlap check


def _pt(k: np.ndarray, name: str) -> np.ndarray | None:
    p = k[KEYPOINT_NAMES.index(name)]
    return p[:2].astype(np.float32) if p[2] > 0 else None


def foot_prompts(k: np.ndarray, width: int, height: int, box_padding: float = 0.6, negative_on_calf: bool = True) -> list[FootPrompt]:
    """One prompt per foot that has at least a toe or heel plus one more foot point."""
    out = []
    for side in ("left", "right"):
        ankle, heel = _pt(k, f"{side}_ankle"), _pt(k, f"{side}_heel")
        toes = [p for p in (_pt(k, f"{side}_big_toe"), _pt(k, f"{side}_small_toe")) if p is not None]
        foot = [p for p in [ankle, heel, *toes] if p is not None]
        if len(foot) < 2 or (heel is None and not toes):
            continue
        pts = np.stack(foot)
        size = float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 8.0))
        pad = size * box_padding / 2
        box = np.array([pts[:, 0].min() - pad, pts[:, 1].min() - pad, pts[:, 0].max() + pad, pts[:, 1].max() + pad], np.float32)
        box = np.clip(box, 0, [width - 1, height - 1, width - 1, height - 1])
        positives = [*toes, *([heel] if heel is not None else [])]
        if heel is not None and toes:
            positives.append((heel + toes[0]) / 2)  # mid-foot: almost always on the shoe
        knee = _pt(k, f"{side}_knee")
        calf = None
        if ankle is not None:
            up = (knee - ankle) * 0.5 if knee is not None else np.array([0.0, -size], np.float32)
            calf = np.stack([ankle, ankle + up]).astype(np.float32)
        negatives = [calf[1]] if negative_on_calf and calf is not None and _inside(calf[1], width, height) else []
        points = np.array(positives + negatives, np.float32)
        labels = np.array([1] * len(positives) + [0] * len(negatives), np.int64)
        out.append(FootPrompt(side, box, points, labels, calf))
    return out


def _inside(p: np.ndarray, width: int, height: int) -> bool:
    return 0 <= p[0] < width and 0 <= p[1] < height
