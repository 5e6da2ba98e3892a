"""Segment stage: shoe masks per foot (SAM or the labelled GrabCut fallback), QC, and the union mask.

Backends share `segment(image, prompts) -> [bool (H, W) per foot]`, computing the image embedding
once per image. A record keeps the feet whose masks pass QC; too few feet -> dropped with the reason.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from shoemodel.curation import models, parts
from shoemodel.curation.config import SegmentConfig
from shoemodel.curation.mask_qc import check_mask
from shoemodel.curation.prompts import FootPrompt, foot_prompts
from shoemodel.curation.stage_io import POSE, SEGMENT, decode_rgb, kept_rows, stage_dir
from shoemodel.schemas.records import encode_png

SEGMENT_SCHEMA = pa.schema(parts.BASE_FIELDS + [
    pa.field("shoe_mask", pa.binary()),  # PNG, L, 0/255
    pa.field("mask_qc", pa.string()),  # JSON: per-foot numbers and verdicts
])


class ShoeSegmenter(Protocol):
    name: str
    version: str

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]: ...


def build_segmenter(cfg: SegmentConfig) -> ShoeSegmenter:
    """The segmenter named by the config; SAM backends need their checkpoint by path."""
    if cfg.backend == "sam":
        from shoemodel.curation.segment_sam import SegmentAnythingSegmenter

        return SegmentAnythingSegmenter(cfg.weights, cfg.model_type)
    if cfg.backend == "hf_sam":
        from shoemodel.curation.segment_sam import HFSamSegmenter

        return HFSamSegmenter(cfg.weights)
    if cfg.backend == "grabcut":
        from shoemodel.curation.segment_grabcut import GrabCutSegmenter

        return GrabCutSegmenter()
    raise ValueError(f"curation.segment.backend '{cfg.backend}' unknown; use sam, hf_sam or grabcut")


def segment_image(image: np.ndarray, keypoints: np.ndarray, segmenter: ShoeSegmenter,
                  cfg: SegmentConfig) -> tuple[np.ndarray | None, str | None, list[dict]]:
    """Union shoe mask of the feet that pass QC, or the reason the image fails; plus per-foot QC."""
    h, w = image.shape[:2]
    prompts = foot_prompts(keypoints, w, h, cfg.box_padding, cfg.negative_on_calf)
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
    """One output row per pose-kept image; per-image errors captured."""
    out = []
    for r in rows:
        try:
            image = decode_rgb(r["image"])
            k = np.asarray(r["keypoints"], np.float32).reshape(-1, 3)
            mask, reason, qc = segment_image(image, k, segmenter, cfg)
        except Exception as exc:  # noqa: BLE001
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.FAILED, f"segment: {type(exc).__name__}: {exc}"))
            continue
        if reason is not None:
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.DROPPED, reason, mask_qc=json.dumps(qc)))
        else:
            out.append(parts.row(r["source_uri"], r["content_hash"], parts.KEPT, None,
                                 shoe_mask=encode_png(mask.astype(np.uint8) * 255), mask_qc=json.dumps(qc)))
    return out


def _segment_part(task: tuple[int, Any], work_dir: str, cfg: SegmentConfig) -> tuple[int, Counter]:
    index = task[0]
    segmenter = models.cached("segment", cfg, build_segmenter)
    rows = segment_rows(kept_rows(work_dir, index, POSE), segmenter, cfg)
    parts.write_part(stage_dir(work_dir, SEGMENT), index, rows, SEGMENT_SCHEMA)
    return index, Counter(r["status"] for r in rows)


def run_segment(work_dir: str | Path, cfg: SegmentConfig, executor: Any = None, resources: dict[str, float] | None = None,
                progress: bool = True) -> parts.StageSummary:
    """Shoe masks over every pose part; resumable; writes segment/summary.json."""
    pose_dir, out_dir = stage_dir(work_dir, POSE), stage_dir(work_dir, SEGMENT)
    from shoemodel.curation.provenance import backend_info

    info = backend_info("segment", cfg.backend, cfg.weights)
    indices = parts.part_indices(pose_dir)
    fn = partial(_segment_part, work_dir=str(work_dir), cfg=cfg)
    return parts.run_stage("segment", pose_dir, out_dir, cfg, info, SEGMENT_SCHEMA, ((i, None) for i in indices), len(indices), fn,
                           executor, resources, progress)
