"""Agreement between annotators of one image, and the rule that merges their masks into one.

Agreement is the mean pairwise IoU over the foreground classes (visible, wearable), the number a
lead reads to decide whether a task needs review. Merge rule: per-pixel majority vote; a tie goes
to the most recently updated annotation (the latest correction wins).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from shoemodel.schemas.classes import NUM_CLASSES, VISIBLE, WEARABLE

FOREGROUND = (VISIBLE, WEARABLE)
MERGE_RULE = "per-pixel majority; ties -> latest annotation"


def mean_iou(a: np.ndarray, b: np.ndarray, classes: Sequence[int] = FOREGROUND) -> float:
    """Mean IoU of two class-id masks over `classes` present in either (1.0 when none is)."""
    ious = []
    for c in classes:
        ma, mb = a == c, b == c
        union = np.logical_or(ma, mb).sum()
        if union:
            ious.append(np.logical_and(ma, mb).sum() / union)
    return float(np.mean(ious)) if ious else 1.0


def pairwise_agreement(masks: Sequence[np.ndarray]) -> tuple[float | None, list[float]]:
    """Mean and list of pairwise mean IoUs; (None, []) for a single annotation."""
    pairs = [mean_iou(a, b) for a, b in itertools.combinations(masks, 2)]
    return (float(np.mean(pairs)) if pairs else None), pairs


def merge_masks(masks_oldest_first: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel majority vote; ties resolved in favour of the last (most recent) mask."""
    if not masks_oldest_first:
        raise ValueError("merge_masks: no masks")
    if len(masks_oldest_first) == 1:
        return np.asarray(masks_oldest_first[0]).copy()
    stack = np.stack(masks_oldest_first)
    votes = np.stack([(stack == c).sum(0) for c in range(NUM_CLASSES)])  # (C, H, W)
    best = votes.max(0)
    latest = stack[-1]
    latest_votes = np.take_along_axis(votes, latest[None].astype(np.int64), 0)[0]
    merged = votes.argmax(0).astype(np.uint8)
    return np.where(latest_votes == best, latest, merged).astype(np.uint8)
