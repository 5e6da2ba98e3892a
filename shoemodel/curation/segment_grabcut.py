"""Keypoint-seeded GrabCut (opencv) on a person mask: the labelled non-SAM shoe masker, no extra weights.

Foot geometry decides where a shoe can be; the person mask (MediaPipe, in the wheel) decides which of those
pixels are the person rather than the floor; GrabCut then follows the shoe's colour edges:
- the foot region is the hull of ankle, heel and toes grown by `foot_margin` x the foot length (a shoe is about
  a third of its length wide and high around its keypoints); outside it is background;
- above the ankle by more than `ankle_margin` x the foot length, along the knee direction, is the leg (calf,
  trousers, sock): background; pixels nearer the other foot's points are the other shoe: background;
- inside what is left, person pixels are probable shoe, the rest probable background; the heel-to-
  toe line (the sole) on the person is sure shoe;
- the shoe is the lowest extremity of the silhouette: person pixels up to `silhouette_reach` x the foot length
  below the region (swept down the leg) and connected to the person inside it join the region. Where the
  confident silhouette (person probability >= 0.9; a shadow under the shoe scores lower) ends more than a
  quarter foot length below the heel/toe points, those points lie on the leg (instep, shin: BlazePose on a
  pump or a walking foot): the silhouette's bottom band is sure shoe instead of the sole line, and the person
  above the points is probable background (skin, sock, trousers);
- when the two ankles are nearer than a foot length (one foot in front of the other), nearness to the points
  cannot tell the feet apart, so the other-foot background rule is skipped.
Every record it makes says `mask_source: grabcut` in its provenance so a real build can filter them out.
`person_mask: none` gives the older seeding (seeds at the points, the padded box probable background).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shoemodel.curation.mask_qc import foot_samples, nearest
from shoemodel.curation.prompts import FootPrompt


class GrabCutSegmenter:
    """GrabCut inside the foot box, seeded from foot geometry and the person's mask."""

    name = "grabcut"

    def __init__(self, *, iterations: int = 3, person_mask: str = "selfie", person_threshold: float = 0.5,
                 foot_margin: float = 0.3, ankle_margin: float = 0.2, sole_margin: float = 0.0, box_padding: float = 0.25,
                 silhouette_reach: float = 1.0, min_foot_length_frac: float = 0.07, core_threshold: float = 0.9,
                 snap: float = 0.25, band: float = 0.2):
        import cv2

        self.iterations = iterations
        self.person_threshold = person_threshold
        self.foot_margin, self.ankle_margin, self.sole_margin = foot_margin, ankle_margin, sole_margin
        self.silhouette_reach, self.min_foot_length_frac = silhouette_reach, min_foot_length_frac
        self.core_threshold, self.snap, self.band = core_threshold, snap, band
        self._masker = None
        if person_mask != "none":
            from shoemodel.curation.person_mask import PersonMasker

            self._masker = PersonMasker(person_mask, box_padding)
        self.version = f"opencv-{cv2.__version__}" + (f" person-{self._masker.version}" if self._masker else "")

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]:
        if self._masker is None:
            return [_legacy(image, p, self.iterations) for p in prompts]
        cache: dict[tuple[float, ...], np.ndarray] = {}
        masks = []
        for p in prompts:
            prob = None
            if p.person_box is not None:
                key = tuple(float(v) for v in p.person_box[:4])
                if key not in cache:
                    cache[key] = self._masker.probability(image, p.person_box)
                prob = cache[key]
            masks.append(self.segment_foot(image, p, prob))
        return masks

    def trimap(self, p: FootPrompt, shape: tuple[int, int], prob: np.ndarray | None) -> np.ndarray:
        """GrabCut labels (H, W) for one foot: the rules of the module docstring, in image pixels."""
        import cv2

        h, w = shape
        lab = np.full((h, w), cv2.GC_BGD, np.uint8)
        pts = {n: v for n, v in p.parts.items() if n != "knee"}
        if len(pts) < 2:
            return lab
        length = max(p.foot_length, 8.0)
        x1, y1, x2, y2 = self.work_box(p, shape, prob)
        yy, xx = np.mgrid[y1:y2, x1:x2].astype(np.float32)
        hull = np.zeros((y2 - y1, x2 - x1), np.uint8)
        own = np.stack(list(pts.values())).astype(np.float32) - [x1, y1]
        down = -p.leg_up * self.sole_margin * length  # the sole lies below the heel/toe points, never above them
        sole = np.stack([v for n, v in pts.items() if n != "ankle"]).astype(np.float32) - [x1, y1] + down
        cv2.fillConvexPoly(hull, cv2.convexHull(np.concatenate([own, sole]).round().astype(np.int32)), 1)
        for a, b in _pairs(own):
            cv2.line(hull, tuple(int(v) for v in a.round()), tuple(int(v) for v in b.round()), 1, 1)
        dist = cv2.distanceTransform((1 - hull).astype(np.uint8), cv2.DIST_L2, 5)
        region = dist <= self.foot_margin * length
        ankle = p.parts.get("ankle")
        if ankle is not None:
            up = p.leg_up
            region &= (xx - ankle[0]) * up[0] + (yy - ankle[1]) * up[1] <= self.ankle_margin * length
        person = np.ones_like(region) if prob is None else prob[y1:y2, x1:x2] >= self.person_threshold
        if prob is not None and self.silhouette_reach > 0:
            region |= _silhouette_below(region, person, -p.leg_up, self.silhouette_reach * self.reach_length(p))
        if p.other is not None and len(p.other) and not p.feet_overlap:
            region &= nearest(xx, yy, foot_samples(own + [x1, y1])) <= nearest(xx, yy, foot_samples(p.other))
        crop = lab[y1:y2, x1:x2]
        crop[region] = cv2.GC_PR_BGD
        crop[region & person] = cv2.GC_PR_FGD
        bottom = None
        feet = np.stack([v for n, v in pts.items() if n != "ankle"]).astype(np.float32)  # heel and toes, image pixels
        if prob is not None and self.silhouette_reach > 0:
            bottom = self._sole_band(p, region, prob[y1:y2, x1:x2], xx, yy, feet)
        if bottom is not None:  # the foot points sit on the leg: the sole is the silhouette's bottom, above it is leg
            depth = (xx * -p.leg_up[0] + yy * -p.leg_up[1])
            lowest = float(np.max(feet @ -p.leg_up))
            crop[region & person & (depth < lowest)] = cv2.GC_PR_BGD
            crop[bottom] = cv2.GC_FGD
            return lab
        core = np.zeros_like(hull)
        for a, b in _sole(pts, [x1, y1]):
            cv2.line(core, tuple(int(v) for v in a.round()), tuple(int(v) for v in b.round()), 1, max(1, int(0.08 * length)))
        crop[(core > 0) & region & person] = cv2.GC_FGD
        return lab

    def _sole_band(self, p: FootPrompt, region: np.ndarray, prob: np.ndarray, xx: np.ndarray, yy: np.ndarray,
                   feet: np.ndarray) -> np.ndarray | None:
        """Where the confident silhouette (prob >= core_threshold: the shadow under a shoe is less sure) ends
        more than `snap` x the foot length below the heel/toe points, those points lie on the leg (instep, shin)
        and the shoe is the silhouette's lowest part: its bottom band (`band` x the foot length) is sure shoe.
        None when the points already reach the silhouette's bottom."""
        down = -p.leg_up
        sure = region & (prob >= self.core_threshold)
        if not sure.any():
            return None
        depth = xx * down[0] + yy * down[1]
        lowest = float(np.max(feet @ down))
        across = np.round(xx * down[1] - yy * down[0]).astype(np.int64)[sure]
        order = np.argsort(across)
        cols, first = np.unique(across[order], return_index=True)
        deepest = float(np.median(np.maximum.reduceat(depth[sure][order], first)))  # the bottom across the foot's width
        length = self.reach_length(p)
        if deepest - lowest <= self.snap * length:
            return None
        return sure & (depth >= deepest - self.band * length) & (depth <= deepest)

    def segment_foot(self, image: np.ndarray, p: FootPrompt, prob: np.ndarray | None) -> np.ndarray:
        import cv2

        lab = self.trimap(p, image.shape[:2], prob)
        fg = (lab == cv2.GC_FGD) | (lab == cv2.GC_PR_FGD)
        if not (lab == cv2.GC_FGD).any():
            return fg
        x1, y1, x2, y2 = self.work_box(p, image.shape[:2], prob)
        crop = np.ascontiguousarray(image[y1:y2, x1:x2, ::-1])
        m = np.ascontiguousarray(lab[y1:y2, x1:x2])
        if min(crop.shape[:2]) <= 4 or not ((m == cv2.GC_BGD) | (m == cv2.GC_PR_BGD)).any():
            return fg
        cv2.setRNGSeed(0)  # GrabCut's k-means init draws from a per-thread RNG: seed it so reruns match
        try:
            cv2.grabCut(crop, m, None, np.zeros((1, 65)), np.zeros((1, 65)), self.iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            return fg  # degenerate crop (one colour): keep the seeded region
        out = np.zeros(image.shape[:2], bool)
        out[y1:y2, x1:x2] = (m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD)
        return out


    def reach_length(self, p: FootPrompt) -> float:
        """The foot length the silhouette rule measures in: the keypoints' foot, at least `min_foot_length_frac`
        of the person box height (foot points on the instep make the foot look short)."""
        length = max(p.foot_length, 8.0)
        if p.person_box is not None:
            length = max(length, self.min_foot_length_frac * float(p.person_box[3] - p.person_box[1]))
        return length

    def work_box(self, p: FootPrompt, shape: tuple[int, int], prob: np.ndarray | None) -> tuple[int, int, int, int]:
        """The prompt box, reaching `silhouette_reach` x the foot length further down the leg when the person
        mask is known (the sole may lie below foot points that sit on the instep)."""
        h, w = shape
        box = np.asarray(p.box, np.float32).copy()
        if prob is not None and self.silhouette_reach > 0:
            step = -p.leg_up * self.silhouette_reach * self.reach_length(p)
            box[:2] = np.minimum(box[:2], box[:2] + step)
            box[2:] = np.maximum(box[2:], box[2:] + step)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        x1, y1 = max(x1, 0), max(y1, 0)
        return x1, y1, min(max(x2, x1 + 2), w), min(max(y2, y1 + 2), h)


def _silhouette_below(region: np.ndarray, person: np.ndarray, down: np.ndarray, reach: float) -> np.ndarray:
    """Person pixels of the foot region swept `reach` pixels down the leg, connected to the person inside the
    region: the shoe is the lowest extremity of the silhouette, wherever the foot points sit on the leg."""
    import cv2

    swept = region.astype(np.uint8)
    steps = max(1, int(np.ceil(reach / 4)))
    for i in range(1, steps + 1):
        dx, dy = (down * reach * i / steps).tolist()
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        swept |= cv2.warpAffine(region.astype(np.uint8), shift, region.shape[::-1], flags=cv2.INTER_NEAREST)
    cand = (swept > 0) & person
    n, lab = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    seeds = np.unique(lab[region & person & (lab > 0)])
    return np.isin(lab, seeds) if len(seeds) else np.zeros_like(region)


def _sole(pts: dict[str, np.ndarray], origin: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The sole line (heel to each toe; ankle to toe without a heel): always on the shoe, unlike the ankle,
    which sits on bare skin in a pump or sandal."""
    back = pts.get("heel", pts.get("ankle"))
    toes = [pts[t] for t in ("big_toe", "small_toe") if t in pts]
    if back is None or not toes:
        return []
    o = np.asarray(origin, np.float32)
    return [(back - o, t - o) for t in toes]


def _pairs(pts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(pts[i], pts[j]) for i in range(len(pts)) for j in range(i + 1, len(pts))]


def _legacy(image: np.ndarray, p: FootPrompt, iterations: int) -> np.ndarray:
    """The first seeding: foreground discs on the foot points, background on the calf point, box probable background."""
    import cv2

    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in p.box)
    x2, y2 = max(x2, x1 + 2), max(y2, y1 + 2)
    crop = np.ascontiguousarray(image[y1:y2, x1:x2, ::-1])
    m = np.full(crop.shape[:2], cv2.GC_PR_BGD, np.uint8)
    r = max(2, int(0.06 * max(crop.shape[:2])))
    for (px, py), lab in zip(p.points, p.labels):
        cv2.circle(m, (int(px) - x1, int(py) - y1), r, int(cv2.GC_FGD if lab == 1 else cv2.GC_BGD), -1)
    full = np.zeros((h, w), bool)
    if (m == cv2.GC_FGD).any() and crop.shape[0] > 4 and crop.shape[1] > 4:
        cv2.setRNGSeed(0)
        try:
            cv2.grabCut(crop, m, None, np.zeros((1, 65)), np.zeros((1, 65)), iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            pass  # degenerate crop (one colour): keep the seeds only
        full[y1:y2, x1:x2] = (m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD)
    return full


def from_config(cfg: Any) -> GrabCutSegmenter:
    """The `grabcut` backend of curation.segment."""
    return GrabCutSegmenter(person_mask=cfg.person_mask, person_threshold=cfg.person_threshold,
                            foot_margin=cfg.foot_margin, ankle_margin=cfg.ankle_margin, sole_margin=cfg.sole_margin,
                            silhouette_reach=cfg.silhouette_reach, min_foot_length_frac=cfg.min_foot_length_frac)
