"""The shoe prior as the segment stage's backend (the offline default): shoe probability around each person's
feet from the shipped tiny UNets (shoemodel.models.shoe_prior), split into one mask per foot.

Per person, both feet share one crop (their points and the person box fix it, as in training). A foot's mask is
the prior's shoe pixels (probability >= `threshold`; the prior is the mean of the shipped 96 px and 128 px
priors unless configured otherwise) nearer this foot's points than the other foot's (no split when
the ankles overlap: one foot in front of the other), keeping the connected parts that reach within `reach` x the
foot length of its points (a bag, another person's shoe elsewhere in the crop are not this foot), and (with
`ankle_margin` > 0) dropping what lies more than that x the foot length above the ankle towards the knee (the leg). Where the prior
finds nothing for a foot, GrabCut (`fallback`) makes that foot's mask, and its provenance says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shoemodel.curation.mask_qc import foot_samples, nearest
from shoemodel.curation.prompts import FootPrompt
from shoemodel.models.shoe_prior import PriorMap, ShoePrior
from shoemodel.models.shoe_prior.crop import points_square
from shoemodel.models.shoe_prior.predictor import SHIPPED, SHIPPED_SEGMENTERS, PriorEnsemble

_LOADED: dict[str, ShoePrior] = {}


def load_prior(weights: str = "") -> ShoePrior:
    """The prior of `weights` (a folder; '' = the shipped one), loaded once per process ('' and the shipped folder's
    path are one entry: the default ensemble names it by path)."""
    key = weights or str(SHIPPED)
    if key not in _LOADED:
        _LOADED[key] = ShoePrior.load(weights or None)
    return _LOADED[key]


def segmenting_prior(cfg: Any) -> ShoePrior | PriorEnsemble:
    """The prior that makes masks and SAM prompts: the mean of the priors in prior_weights ([] = the shipped 96 px
    and 128 px priors); one folder is that prior alone."""
    folders = [str(f) for f in cfg.prior_weights] or [str(f) for f in SHIPPED_SEGMENTERS]
    priors = [load_prior(f) for f in folders]
    return priors[0] if len(priors) == 1 else PriorEnsemble(priors)


def person_points(p: FootPrompt) -> np.ndarray:
    """Both feet's points of the prompt's person (own parts without the knee, and the other foot's)."""
    own = [v for k, v in p.parts.items() if k != "knee"]
    other = list(p.other) if p.other is not None else []
    return np.asarray(own + other, np.float32).reshape(-1, 2)


def parse_views(spec: str, key: str = "curation.segment.prior_views") -> tuple[tuple[float, bool], ...]:
    """"1,1f,1.25" -> ((1.0, False), (1.0, True), (1.25, False)): zooms of the foot crop, "f" mirrored."""
    views = []
    for item in str(spec).replace(" ", "").split(","):
        flip = item.endswith("f")
        try:
            zoom = float(item[:-1] if flip else item)
        except ValueError:
            zoom = 0.0
        if not 0.25 <= zoom <= 4:
            raise ValueError(f"{key}: {item!r} is not a view (a zoom in 0.25..4, 'f' for mirrored; e.g. \"1,1f,1.25\")")
        views.append((zoom, flip))
    return tuple(views)


def prior_maps(prior: ShoePrior | PriorEnsemble, image: np.ndarray, prompts: list[FootPrompt],
               views: tuple[tuple[float, bool], ...] = ((1.0, False),)) -> list[PriorMap | None]:
    """The prior's map for each prompt; feet of one person (same points, same box) share one crop and one run."""
    keys, persons = [], {}
    for p in prompts:
        pts = person_points(p)
        key = (tuple(np.round(np.sort(pts, axis=0), 1).ravel().tolist()),
               None if p.person_box is None else tuple(np.asarray(p.person_box[:4], float).round(1).tolist()))
        keys.append(key)
        persons.setdefault(key, (pts, p.person_box))
    order = list(persons)
    maps = dict(zip(order, _maps(prior, image, [persons[k] for k in order], views)))
    return [maps[k] for k in keys]


def _maps(prior: ShoePrior | PriorEnsemble, image: np.ndarray, persons: list[tuple[np.ndarray, Any]],
          views: tuple[tuple[float, bool], ...]) -> list[PriorMap | None]:
    """ShoePrior.probabilities from point sets (the 12-keypoint array rebuilt: foot points in the foot slots)."""
    from shoemodel.models.shoe_prior.crop import FOOT_POINTS

    ks = []
    for pts, box in persons:
        if points_square(pts, box) is None:
            ks.append((np.zeros((12, 3), np.float32), box))
            continue
        k = np.zeros((12, 3), np.float32)
        for slot, (x, y) in zip(FOOT_POINTS, pts[: len(FOOT_POINTS)]):
            k[slot] = (x, y, 1)
        ks.append((k, box))
    return prior.probabilities(image, ks, views)


def foot_mask(pm: PriorMap | None, p: FootPrompt, shape: tuple[int, int], threshold: float = 0.5,
              reach: float = 0.5, min_body_frac: float = 0.07, ankle_margin: float = 0.0) -> np.ndarray:
    """This foot's share of the prior's shoe pixels (see the module docstring); all False when none."""
    import cv2

    out = np.zeros(shape, bool)
    if pm is None:
        return out
    x1, y1, x2, y2 = pm.window
    m = pm.prob >= threshold
    if not m.any():
        return out
    own = np.asarray([v for k, v in p.parts.items() if k != "knee"], np.float32).reshape(-1, 2)
    if not len(own):
        return out
    ys, xs = np.nonzero(m)
    fx, fy = xs.astype(np.float32) + x1, ys.astype(np.float32) + y1
    d_own = nearest(fx, fy, foot_samples(own))
    keep = np.ones(len(xs), bool)
    if p.other is not None and len(p.other) and not p.feet_overlap:
        keep = d_own <= nearest(fx, fy, foot_samples(p.other))
    length = max(p.foot_length, 8.0)
    if p.person_box is not None:
        length = max(length, min_body_frac * float(p.person_box[3] - p.person_box[1]))
    ankle, knee = p.parts.get("ankle"), p.parts.get("knee")
    if ankle_margin > 0 and ankle is not None and knee is not None and np.hypot(*(knee - ankle)) > 1:
        up = p.leg_up  # more than ankle_margin x the foot length up the leg: leg
        keep &= (fx - ankle[0]) * up[0] + (fy - ankle[1]) * up[1] <= ankle_margin * length
    m[:] = False
    m[ys[keep], xs[keep]] = True
    n, lab = cv2.connectedComponents(m.astype(np.uint8), connectivity=8)
    if n > 2:
        dist = np.full(n, np.inf, np.float32)
        np.minimum.at(dist, lab[ys[keep], xs[keep]], d_own[keep])
        near = [c for c in range(1, n) if dist[c] <= reach * length]
        m = np.isin(lab, near)
    out[y1:y2, x1:x2] = m
    return out


class PriorSegmenter:
    """The shoe prior per foot; GrabCut (when given) for a foot the prior finds nothing for."""

    name = "shoe_prior"

    def __init__(self, prior: ShoePrior | PriorEnsemble, threshold: float = 0.5, reach: float = 0.5, fallback: Any = None,
                 ankle_margin: float = 0.0, person_masker: Any = None, person_threshold: float = 0.2,
                 views: tuple[tuple[float, bool], ...] = ((1.0, False),)):
        self.prior, self.threshold, self.reach, self.fallback, self.views = prior, threshold, reach, fallback, views
        self.ankle_margin, self.person_masker, self.person_threshold = ankle_margin, person_masker, person_threshold
        self.version = prior.version + ("" if views == ((1.0, False),) else " views-" + ",".join(
            f"{z:g}{'f' if f else ''}" for z, f in views)) + (f" fallback-{fallback.name}-{fallback.version}" if fallback is not None else "")
        self.fallback_feet = 0  # feet the fallback segmented (the prior found no shoe pixels)
        self.mask_scores: dict[int, dict[str, Any]] = {}  # id(mask) -> {"source": "grabcut"} for a fallback foot

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]:
        maps = prior_maps(self.prior, image, prompts, self.views)
        masks = [foot_mask(pm, p, image.shape[:2], self.threshold, self.reach, ankle_margin=self.ankle_margin)
                 for pm, p in zip(maps, prompts)]
        if self.person_masker is not None:  # a shoe is part of its person: not a ball, the floor or a shadow
            cache: dict[tuple[float, ...], np.ndarray] = {}
            for i, p in enumerate(prompts):
                if p.person_box is None or not masks[i].any():
                    continue
                key = tuple(float(v) for v in p.person_box[:4])
                if key not in cache:
                    cache[key] = self.person_masker.probability(image, p.person_box) >= self.person_threshold
                masks[i] = masks[i] & cache[key]
        empty = [i for i, m in enumerate(masks) if not m.any()]
        if empty and self.fallback is not None:
            if len(self.mask_scores) > 4096:
                self.mask_scores.clear()
            for i, m in zip(empty, self.fallback.segment(image, [prompts[i] for i in empty])):
                masks[i] = m
                self.fallback_feet += 1
                self.mask_scores[id(m)] = {"source": self.fallback.name}
        return masks


def from_config(cfg: Any) -> PriorSegmenter:
    """The `shoe_prior` backend of curation.segment: the segmenting prior (segmenting_prior), GrabCut (built
    lazily, only for a foot the prior finds nothing for) as its fallback unless prior_fallback is none."""
    if cfg.prior_fallback not in ("grabcut", "none"):
        raise ValueError(f"curation.segment.prior_fallback must be grabcut or none, got {cfg.prior_fallback!r}")
    fallback = _LazyGrabCut(cfg) if cfg.prior_fallback == "grabcut" else None
    masker = None
    if cfg.prior_person_mask != "none":
        from shoemodel.curation.person_mask import PersonMasker

        masker = PersonMasker(cfg.prior_person_mask)
    return PriorSegmenter(segmenting_prior(cfg), cfg.prior_threshold, cfg.prior_reach, fallback,
                          cfg.prior_ankle_margin, masker, cfg.prior_person_threshold, parse_views(cfg.prior_views))


class _LazyGrabCut:
    """GrabCut built at its first use (its person mask model loads only when the prior misses a foot)."""

    name = "grabcut"

    def __init__(self, cfg: Any):
        import cv2

        self.cfg, self._seg = cfg, None
        self.version = f"opencv-{cv2.__version__}"

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]:
        if self._seg is None:
            from shoemodel.curation.segment_grabcut import from_config as grabcut

            self._seg = grabcut(self.cfg)
        return self._seg.segment(image, prompts)
