"""SAM prompts per foot from the 12 keypoints: a box around ankle/toes/heel, positives on the foot, a negative on the calf."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    parts: dict[str, np.ndarray] = field(default_factory=dict)  # this foot's named points: ankle, heel, big_toe, small_toe, knee
    other: np.ndarray | None = None  # (M, 2) the other foot's points: a mask on them covers the wrong foot
    person_box: np.ndarray | None = None  # x1, y1, x2, y2 of the person: the expected foot size, the person mask's crop

    @property
    def foot_length(self) -> float:
        """Heel (or ankle) to the farthest toe, in pixels: the scale of every foot-relative rule (0 if unknown)."""
        back = self.parts.get("heel", self.parts.get("ankle"))
        toes = [self.parts[t] for t in ("big_toe", "small_toe") if t in self.parts]
        if back is None or not toes:
            pts = np.stack(list(v for k, v in self.parts.items() if k != "knee")) if self.parts else np.zeros((0, 2))
            return float(np.ptp(pts, 0).max()) if len(pts) > 1 else 0.0
        return float(max(np.hypot(*(t - back)) for t in toes))

    @property
    def feet_overlap(self) -> bool:
        """The two ankles are nearer each other than a foot length: one foot stands in front of the other in the
        image, so nearness to either foot's points cannot tell their pixels apart."""
        ankle = self.parts.get("ankle")
        if ankle is None or self.other is None or not len(self.other):
            return False
        return float(np.min(np.hypot(*(self.other - ankle).T))) < self.foot_length


def _pt(k: np.ndarray, name: str) -> np.ndarray | None:
    p = k[KEYPOINT_NAMES.index(name)]
    return p[:2].astype(np.float32) if p[2] > 0 else None


def _foot_parts(k: np.ndarray, side: str) -> dict[str, np.ndarray]:
    named = {part: _pt(k, f"{side}_{part}") for part in ("ankle", "heel", "big_toe", "small_toe", "knee")}
    return {n: p for n, p in named.items() if p is not None}


def foot_prompts(k: np.ndarray, width: int, height: int, box_padding: float = 0.6, negative_on_calf: bool = True,
                 person_box: np.ndarray | None = None) -> list[FootPrompt]:
    """One prompt per foot that has at least a toe or heel plus one more foot point."""
    out = []
    pb = None if person_box is None else np.asarray(person_box, np.float32)[:4]
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
        other = [p for n, p in _foot_parts(k, "right" if side == "left" else "left").items() if n != "knee"]
        out.append(FootPrompt(side, box, points, labels, calf, parts=_foot_parts(k, side),
                              other=np.stack(other) if other else None, person_box=pb))
    return out


def _inside(p: np.ndarray, width: int, height: int) -> bool:
    return 0 <= p[0] < width and 0 <= p[1] < height
