"""Segment stage: shoe masks per foot (SAM or the labelled GrabCut fallback), QC, and the union mask.

Backends share `segment(image, prompts) -> [bool (H, W) per foot]`, computing the image embedding
once per image. A person keeps the feet whose masks pass QC; too few feet -> that person is dropped with
the reason. A row holds every person of the pose row: `shoe_masks` one PNG per person (null when dropped),
`shoe_mask` the first kept person's (the single-person view), `mask_qc` per person with per-foot numbers.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from shoemodel.curation import parts
from shoemodel.curation.config import SegmentConfig
from shoemodel.curation.mask_qc import check_mask
from shoemodel.curation.prompts import FootPrompt, foot_prompts
from shoemodel.curation.stage_io import decode_rgb
from shoemodel.schemas.records import encode_png

SEGMENT_SCHEMA = pa.schema(parts.BASE_FIELDS + [
    pa.field("shoe_mask", pa.binary()),  # PNG, L, 0/255: the first kept person
    pa.field("shoe_masks", pa.list_(pa.binary())),  # PNG per pose person, null where its masks failed QC
    pa.field("mask_qc", pa.string()),  # JSON: [{person, ok, reason, feet: [per-foot numbers and verdicts]}]
])


class ShoeSegmenter(Protocol):
    name: str
    version: str

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]: ...


def build_segmenter(cfg: SegmentConfig) -> ShoeSegmenter:
    """The segmenter named by the config; SAM backends load their checkpoint by path (shoemodel.models.sam)."""
    if cfg.backend in ("sam", "hf_sam"):
        from shoemodel.curation.segment_sam import SamSegmenter

        return SamSegmenter.from_weights(cfg.backend, cfg.weights, cfg.model_type)
    if cfg.backend == "grabcut":
        from shoemodel.curation.segment_grabcut import GrabCutSegmenter

        return GrabCutSegmenter(person_mask=cfg.person_mask, person_threshold=cfg.person_threshold,
                                foot_margin=cfg.foot_margin, ankle_margin=cfg.ankle_margin, sole_margin=cfg.sole_margin,
                                silhouette_reach=cfg.silhouette_reach, min_foot_length_frac=cfg.min_foot_length_frac)
    raise ValueError(f"curation.segment.backend '{cfg.backend}' unknown; use sam, hf_sam or grabcut")


def segment_image(image: np.ndarray, keypoints: np.ndarray, segmenter: ShoeSegmenter,
                  cfg: SegmentConfig, person_box: np.ndarray | None = None) -> tuple[np.ndarray | None, str | None, list[dict]]:
    """Union shoe mask of the feet that pass QC, or the reason the image fails; plus per-foot QC."""
    h, w = image.shape[:2]
    prompts = foot_prompts(keypoints, w, h, cfg.box_padding, cfg.negative_on_calf, person_box)
    if not prompts:
        return None, "no foot prompt", []
    union = np.zeros((h, w), bool)
    qc, reasons, good = [], [], 0
    for p, m in zip(prompts, segmenter.segment(image, prompts)):
        m, reason, stats = check_mask(m, p, cfg)
        qc.append({"side": p.side, **stats, "ok": reason is None, **({"reason": reason} if reason else {})})
        if reason is None:
            union |= m
            good += 1
        else:
            reasons.append(reason)
    if good < cfg.min_feet:
        return None, f"mask qc: {reasons[0] if reasons else 'too few feet'}", qc
    return union, None, qc


def segment_rows(rows: list[dict[str, Any]], segmenter: ShoeSegmenter, cfg: SegmentConfig) -> list[dict[str, Any]]:
    """One output row per pose-kept image (all its persons); per-image errors captured."""
    out = []
    for r in rows:
        try:
            image = decode_rgb(r["image"])
            ks = np.asarray(r["keypoints"], np.float32).reshape(-1, 12, 3)
            boxes = np.asarray(r.get("person_box") or [], np.float32).reshape(-1, 5)
            index = list(r.get("person_index") or range(len(ks)))
            masks, qc = [], []
            for j, k in enumerate(ks):
                mask, reason, feet = segment_image(image, k, segmenter, cfg, boxes[j] if j < len(boxes) else None)
                masks.append(None if mask is None else encode_png(mask.astype(np.uint8) * 255))
                qc.append({"person": int(index[j]), "ok": reason is None, **({"reason": reason} if reason else {}), "feet": feet})
        except Exception as exc:  # noqa: BLE001
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.FAILED, f"segment: {type(exc).__name__}: {exc}"))
            continue
        kept = [m for m in masks if m is not None]
        if not kept:
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.DROPPED, qc[0].get("reason") if qc else "no person",
                                 mask_qc=json.dumps(qc)))
        else:
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.KEPT, None,
                                 shoe_mask=kept[0], shoe_masks=masks, mask_qc=json.dumps(qc)))
    return out
