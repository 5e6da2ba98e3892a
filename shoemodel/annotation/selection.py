"""Choose a round's images: those the current WD model is least sure of, or random without a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from shoemodel.annotation.pool import iter_pool, sample_ids
from shoemodel.annotation.predictor import Predictor, predict, record_input, uncertainty
from shoemodel.schemas.records import decode_image


@dataclass
class Selection:
    """The chosen ids, how they were chosen, and the uncertainty of each when a model chose."""

    ids: list[str]
    method: str
    scores: dict[str, float] = field(default_factory=dict)


def select(pool: str | Path, n: int, seed: int, exclude: set[str], predictor: Predictor | None = None,
           candidates: int = 2000) -> Selection:
    """Random n unsent ids, or the n most uncertain among `candidates` random unsent ids."""
    if n < 1:
        raise ValueError("a round needs n >= 1 images")
    if predictor is None:
        return Selection(sample_ids(pool, n, seed, exclude), "random")
    cand = sample_ids(pool, max(n, candidates), seed, exclude)
    scores: dict[str, float] = {}
    for rec in iter_pool(pool, cand, columns=["id", "image", "shoe_image", "area_mask"]):
        _, probs = predict(predictor, *record_input(predictor, rec))
        if probs is None:  # a hard-mask predictor says nothing about its confidence
            return Selection(cand[:n], "random (predictor gives no probabilities)")
        shoe = decode_image(rec["area_mask"], "L", "area_mask") > 0
        scores[rec["id"]] = uncertainty(probs, shoe)
    chosen = sorted(scores, key=lambda i: (-scores[i], cand.index(i)))[:n]
    return Selection(chosen, "uncertainty", {i: scores[i] for i in chosen})
