"""Pose stage: whole-body (COCO-WholeBody 133) pose on each kept person -> 12 shoe-leg keypoints + filters.

Backends (listed in shoemodel.curation.backends) share `estimate(image, boxes) -> (P, 133, 3)`.
Every person box that passes the quality filters gives its own record: a pose row holds P persons
(`keypoints` P x 36, `person_box` P x 5, `person_index` = the box's place in the detect row, which makes
the record id stable). The filters check that the points belong to that person: inside its box, bone
lengths plausible for its box, and each foot's toe and heel nearer its own ankle than the other one.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from shoemodel.curation import backends, parts
from shoemodel.curation.config import PoseConfig
from shoemodel.curation.ledger import PERSON_REASONS
from shoemodel.curation.prefetch import failure_reason
from shoemodel.schemas.keypoints import KEYPOINT_NAMES, wholebody_to_shoeleg

POSE_SCHEMA = pa.schema(parts.BASE_FIELDS + [
    pa.field("keypoints", pa.list_(pa.float32())),  # 12 x (x, y, score); missing = 0, 0, 0
    pa.field("person_box", pa.list_(pa.float32())),  # x1, y1, x2, y2, score per person
    pa.field("person_index", pa.list_(pa.int32())),  # each person's index among the detect row's boxes
])
FOOT_PARTS = ("ankle", "big_toe", "small_toe", "heel")


class WholeBodyPose(Protocol):
    name: str
    version: str

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray: ...


def build_pose(cfg: PoseConfig) -> WholeBodyPose:
    """The pose backend named by the config (shoemodel.curation.backends)."""
    return backends.build("pose", cfg)


def to_shoeleg(wholebody: np.ndarray, width: int, height: int, min_score: float) -> np.ndarray:
    """(133, 3) -> (12, 3); points below min_score or outside the image become missing (0, 0, 0)."""
    k = wholebody_to_shoeleg(wholebody).copy()
    inside = (k[:, 0] >= 0) & (k[:, 0] < width) & (k[:, 1] >= 0) & (k[:, 1] < height)
    bad = (k[:, 2] < min_score) | ~inside
    k[bad] = 0
    k[:, 2] = np.clip(k[:, 2], 0, 1)
    return k


def _index(side: str, part: str) -> int:
    return KEYPOINT_NAMES.index(f"{side}_{part}")


HEEL_DROP = 0.3  # heel below the ankle, along the leg, by this x the ankle-to-toe distance (ankle height ~ 0.3 of it)


def derive_heels(k: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """A weak heel (below min_point_score) where ankle and big toe are confident: put it on the leg line.

    The heel sits under the ankle: the knee -> ankle line continued below the ankle by HEEL_DROP x the ankle-to-toe
    distance (straight down in the image without a knee). The point keeps the model's own (low) score, so a
    reader can tell it from a detected one; a foot is not lost for one weak point that geometry fixes."""
    out = k.copy()
    for side in ("left", "right"):
        a, t, h, kn = (_index(side, n) for n in ("ankle", "big_toe", "heel", "knee"))
        if out[h, 2] > 0 or out[a, 2] <= 0 or out[t, 2] <= 0 or raw[h, 2] <= 0:
            continue
        down = out[a, :2] - out[kn, :2] if out[kn, 2] > 0 else np.array([0.0, 1.0], np.float32)
        norm = float(np.hypot(*down))
        down = down / norm if norm > 1 else np.array([0.0, 1.0], np.float32)
        reach = HEEL_DROP * float(np.hypot(*(out[t, :2] - out[a, :2])))
        out[h] = (*(out[a, :2] + down * reach), float(np.clip(raw[h, 2], 1e-3, 1)))
    return out


def outside_box(k: np.ndarray, box: np.ndarray, slack: float) -> np.ndarray:
    """Points (present ones) outside the person box grown by `slack` of its size on every side: not this person's."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    dx, dy = slack * (x2 - x1), slack * (y2 - y1)
    return (k[:, 2] > 0) & ((k[:, 0] < x1 - dx) | (k[:, 0] > x2 + dx) | (k[:, 1] < y1 - dy) | (k[:, 1] > y2 + dy))


def _dist(k: np.ndarray, a: int, b: int) -> float | None:
    return float(np.hypot(*(k[a, :2] - k[b, :2]))) if k[a, 2] > 0 and k[b, 2] > 0 else None


def _mixed(k: np.ndarray, side: str, other: str, part: str) -> bool:
    """The point lies well on the other foot's side (sanity_reason's test)."""
    p, own_a, other_a = _index(side, part), _index(side, "ankle"), _index(other, "ankle")
    d_own, d_other, d_ankles = _dist(k, p, own_a), _dist(k, p, other_a), _dist(k, own_a, other_a)
    return d_own is not None and d_other is not None and d_ankles is not None and d_other < d_own and d_ankles > 2 * d_other


def repair_left_right(k: np.ndarray, min_score: float) -> np.ndarray:
    """Heel / toe points the model gave the wrong foot: a part that is on the other foot's side on both feet is
    swapped between them; one on the other foot's side on one foot only (two points on one shoe) is dropped, and
    the foot's completeness check decides. Points below `min_score` are left alone (derived heels follow their ankle)."""
    out = k.copy()
    for part in ("big_toe", "small_toe", "heel"):
        li, ri = _index("left", part), _index("right", part)
        sure = out[li, 2] >= min_score, out[ri, 2] >= min_score
        ml = sure[0] and _mixed(out, "left", "right", part)
        mr = sure[1] and _mixed(out, "right", "left", part)
        if ml and mr:
            out[[li, ri]] = out[[ri, li]]
        elif ml:
            out[li] = 0
        elif mr:
            out[ri] = 0
    return out


def sanity_reason(k: np.ndarray, box: np.ndarray, cfg: PoseConfig) -> str | None:
    """Why these points cannot be one person's legs: bone lengths for the box, feet swapped left/right."""
    box_h = max(float(box[3] - box[1]), 1.0)
    for side, other in (("left", "right"), ("right", "left")) if cfg.check_left_right else ():
        own_a, other_a = _index(side, "ankle"), _index(other, "ankle")
        for part in ("big_toe", "small_toe", "heel"):
            if k[_index(side, part), 2] < cfg.min_point_score:
                continue  # a derived heel (derive_heels) is placed from its own ankle: nothing to check
            d_own, d_other = _dist(k, _index(side, part), own_a), _dist(k, _index(side, part), other_a)
            # mixed = the point lies well on the other foot's side: nearer the other ankle than half the ankles'
            # distance (crossed or side-on feet put both ankles at one place; then nearness says nothing)
            if d_own is not None and d_other is not None and d_other < d_own and _dist(k, own_a, other_a) > 2 * d_other:
                return f"left/right mixed: {side} {part} nearer the {other} ankle"
    for side in ("left", "right"):
        hip, knee, ankle = _index(side, "hip"), _index(side, "knee"), _index(side, "ankle")
        for name, (a, b) in (("hip-knee", (hip, knee)), ("knee-ankle", (knee, ankle))):
            d = _dist(k, a, b)
            if d is not None and not cfg.min_leg_frac <= d / box_h <= cfg.max_leg_frac:
                return f"leg length: {side} {name} {d / box_h:.2f} of box height"
        calf = _dist(k, knee, ankle)
        for part in ("big_toe", "small_toe", "heel"):
            d = _dist(k, ankle, _index(side, part))
            if d is None:
                continue
            if d / box_h > cfg.max_foot_frac:
                return f"foot length: {side} ankle-{part} {d / box_h:.2f} of box height"
            if calf is not None and calf > 0.05 * box_h and d > cfg.max_foot_calf_ratio * calf:
                return f"foot length: {side} ankle-{part} {d / calf:.2f} x the calf"
    return None


def quality_reason(k: np.ndarray, box: np.ndarray, cfg: PoseConfig) -> str | None:
    """Why these 12 keypoints fail the filters, or None when they pass (points outside the box are dropped first)."""
    unknown = set(cfg.foot_points) - set(FOOT_PARTS)
    if unknown:
        raise ValueError(f"curation.pose.foot_points: unknown {sorted(unknown)}; choose from {FOOT_PARTS}")
    k = np.where(outside_box(k, box, cfg.box_slack)[:, None], 0, k)
    complete = sum(all(k[_index(side, p), 2] > 0 for p in cfg.foot_points) for side in ("left", "right"))
    if complete < cfg.min_complete_feet:
        return f"no complete foot: {complete} < {cfg.min_complete_feet}"
    return sanity_reason(k, box, cfg)


def pose_rows(rows: list[dict[str, Any]], estimator: WholeBodyPose, cfg: PoseConfig) -> list[dict[str, Any]]:
    """One output row per detect-kept image (decoded ahead in threads); errors per image are captured as failed rows."""
    from shoemodel.curation.prefetch import map_batches

    return map_batches(rows, cfg.batch_size, cfg.loader_threads, lambda b: pose_decoded(b.rows, b.images, estimator, cfg))


def pose_decoded(batch: list[dict[str, Any]], images: list[Any], estimator: WholeBodyPose,
                 cfg: PoseConfig) -> list[dict[str, Any]]:
    """One decoded batch: every person crop of every image through the model in one call where it can batch."""
    out = []
    batch_fn = getattr(estimator, "estimate_batch", None)
    boxes = [np.asarray(r["boxes"], np.float32).reshape(-1, 5) for r in batch]
    wbs: list[Any] = [None] * len(batch)
    ok = [i for i, im in enumerate(images) if not isinstance(im, Exception)]
    if batch_fn is not None and ok:
        try:
            for i, wb in zip(ok, batch_fn([images[i] for i in ok], [boxes[i] for i in ok])):
                wbs[i] = wb
        except Exception:  # noqa: BLE001 - fall back to one image at a time below
            pass
    for i, r in enumerate(batch):
        im = images[i]
        if isinstance(im, Exception):
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.FAILED, failure_reason(im)))
            continue
        try:
            wb = wbs[i] if wbs[i] is not None else estimator.estimate(im, boxes[i])
            out.append(_choose(r, wb, boxes[i], im.shape[1], im.shape[0], cfg))
        except Exception as exc:  # noqa: BLE001
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.FAILED, f"pose: {type(exc).__name__}: {exc}"))
    return out


def _choose(r: dict[str, Any], wb: np.ndarray, boxes: np.ndarray, width: int, height: int, cfg: PoseConfig) -> dict[str, Any]:
    """Every person whose points pass the filters (in detect order); dropped with the first person's reason if none."""
    verdicts: list[str | None] = []  # per box: None (kept) or its reason (the ledger records each)
    kept = []
    for i, (person, box) in enumerate(zip(wb, boxes)):
        k = to_shoeleg(person, width, height, cfg.min_point_score)
        if cfg.derive_heel:
            k = derive_heels(k, wholebody_to_shoeleg(person))
        k[outside_box(k, box, cfg.box_slack)] = 0
        if cfg.repair_left_right:
            k = repair_left_right(k, cfg.min_point_score)
        reason = quality_reason(k, box, cfg)
        verdicts.append(reason)
        if reason is None:
            kept.append((i, k, box))
    reasons = [v for v in verdicts if v is not None]
    if not kept:
        return parts.row(r["source_uri"], r["content_hash"], parts.DROPPED, reasons[0] if reasons else "no person box",
                         **{PERSON_REASONS: verdicts})
    return parts.row(r["source_uri"], r["content_hash"], parts.KEPT, None,
                     keypoints=np.concatenate([k.reshape(-1) for _, k, _ in kept]).tolist(),
                     person_box=np.concatenate([np.asarray(b, np.float32).reshape(-1) for _, _, b in kept]).tolist(),
                     person_index=[i for i, _, _ in kept], **{PERSON_REASONS: verdicts})
