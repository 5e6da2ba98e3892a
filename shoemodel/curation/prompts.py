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
    scores: dict[str, float] = field(default_factory=dict)  # the pose's score of each foot point (ankle, heel, toes)

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
    def leg_up(self) -> np.ndarray:
        """Unit vector from the ankle towards the knee (straight up in the image without both): the direction the
        leg leaves the shoe, and the opposite of the floor's."""
        ankle, knee = self.parts.get("ankle"), self.parts.get("knee")
        if ankle is None or knee is None or np.hypot(*(knee - ankle)) <= 1:
            return np.array([0.0, -1.0], np.float32)
        return ((knee - ankle) / float(np.hypot(*(knee - ankle)))).astype(np.float32)

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
        scores = {part: float(k[KEYPOINT_NAMES.index(f"{side}_{part}"), 2]) for part in ("ankle", "heel", "big_toe", "small_toe")
                  if k[KEYPOINT_NAMES.index(f"{side}_{part}"), 2] > 0}
        out.append(FootPrompt(side, box, points, labels, calf, parts=_foot_parts(k, side),
                              other=np.stack(other) if other else None, person_box=pb, scores=scores))
    return out


def _inside(p: np.ndarray, width: int, height: int) -> bool:
    return 0 <= p[0] < width and 0 <= p[1] < height


def prior_prompts(prior: object, image: np.ndarray, prompts: list[FootPrompt], sure: float = 0.9,
                  unsure: float = 0.2) -> list[FootPrompt]:
    """SAM prompts from the shoe prior instead of the keypoints alone, per foot: the box of the prior's mask of that
    foot (grown 5 %), positives where the prior is sure of shoe (probability >= `sure`: the innermost pixel of each
    third along the shoe's long axis), negatives where it is sure of not-shoe (< `unsure`) on the trousers / calf
    (the calf point), on the sock or skin just above the shoe, and on the floor just below its sole. A foot the
    prior finds no shoe for keeps its keypoint prompt."""
    import cv2

    from shoemodel.curation.segment_prior import foot_mask, prior_maps

    h, w = image.shape[:2]
    out = []
    for p, pm in zip(prompts, prior_maps(prior, image, prompts)):  # type: ignore[arg-type]
        m = foot_mask(pm, p, (h, w)) if pm is not None else None
        if m is None or m.sum() < 16:
            out.append(p)
            continue
        prob = pm.full((h, w))
        ys, xs = np.nonzero(m)
        gx, gy = 0.05 * (np.ptp(xs) + 1), 0.05 * (np.ptp(ys) + 1)
        box = np.clip(np.array([xs.min() - gx, ys.min() - gy, xs.max() + gx, ys.max() + gy], np.float32),
                      0, [w - 1, h - 1, w - 1, h - 1])
        core = (m & (prob >= sure)).astype(np.uint8)
        if core.sum() < 4:
            core = m.astype(np.uint8)
        depth = cv2.distanceTransform(core, cv2.DIST_L2, 3)
        cy, cx = np.nonzero(core)
        pts = np.stack([cx, cy], 1).astype(np.float32)
        c = pts - pts.mean(0)
        axis = np.linalg.eigh(c.T @ c)[1][:, -1]
        proj = c @ axis
        cuts = np.quantile(proj, [0, 1 / 3, 2 / 3, 1])
        positives = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            sel = (proj >= a) & (proj <= b)
            if sel.any():
                j = np.argmax(np.where(sel, depth[cy, cx], -1))
                positives.append(pts[j])
        length = max(p.foot_length, float(np.ptp(xs)), 8.0)
        up = np.array([0.0, -1.0], np.float32)
        if p.calf is not None and np.hypot(*(p.calf[1] - p.calf[0])) > 1:
            up = (p.calf[1] - p.calf[0]) / np.hypot(*(p.calf[1] - p.calf[0]))
        top = pts[np.argmax(c @ up)] if len(pts) else np.array([xs.mean(), ys.min()], np.float32)
        bottom = np.array([np.median(xs[ys >= np.percentile(ys, 90)]), ys.max()], np.float32)
        candidates = [top + up * 0.15 * length, bottom - up * 0.15 * length]
        if p.calf is not None:
            candidates.append(p.calf[1])
        negatives = [q for q in candidates if _inside(q, w, h) and prob[int(q[1]), int(q[0])] < unsure
                     and not m[int(q[1]), int(q[0])]]
        points = np.array(positives + negatives, np.float32).reshape(-1, 2)
        labels = np.array([1] * len(positives) + [0] * len(negatives), np.int64)
        out.append(FootPrompt(p.side, box, points, labels, p.calf, parts=p.parts, other=p.other, person_box=p.person_box,
                              scores=p.scores))
    return out
