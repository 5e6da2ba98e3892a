"""A small curated work folder for the review tests: synthetic worn scenes, exact stand-in detect / pose tables
(as tests/curation/test_build_synthetic.py), and the real GrabCut segment stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from shoemodel.curation import parts
from shoemodel.curation.config import CurationConfig
from shoemodel.curation.detect import DETECT_SCHEMA
from shoemodel.curation.ingest import run_ingest
from shoemodel.curation.pose import POSE_SCHEMA
from shoemodel.curation.runner import run_model_stage
from shoemodel.curation.stages import stage as curation_stage
from shoemodel.synthetic.examples import make_worn_example

SIZE = 128


def curated_config(tmp_path: Path, n: int = 6) -> CurationConfig:
    """Ingest `n` synthetic photos and run segment on exact keypoints; returns the config whose build reads them."""
    raw, work = tmp_path / "raw", tmp_path / "work"
    raw.mkdir(parents=True)
    for seed in range(n):
        Image.fromarray(make_worn_example(seed, SIZE).image).save(raw / f"{seed:03d}.png")
    cfg = CurationConfig(work_dir=str(work), out=str(tmp_path / "set"), progress=False)
    cfg.ingest.sources, cfg.ingest.part_size = [str(raw)], 2
    cfg.segment.backend, cfg.segment.person_mask = "grabcut", "none"
    cfg.segment.min_quality, cfg.segment.refine_below = 0.0, 0.0  # drawings: no quality floor, exact points stay
    cfg.build.records_per_shard = 2
    cfg.review.corrections = str(tmp_path / "corrections.jsonl")
    run_ingest(work / "ingest", cfg.ingest, progress=False)
    seeds = {str(raw / f"{s:03d}.png"): s for s in range(n)}
    for stage, schema in (("detect", DETECT_SCHEMA), ("pose", POSE_SCHEMA)):
        (work / stage / "parts").mkdir(parents=True)
        (work / stage / parts.FINGERPRINT).write_text(json.dumps({"fingerprint": f"truth-{stage}"}))
        for i in parts.part_indices(work / "ingest"):
            rows = []
            for r in parts.read_part(work / "ingest", i, ["source_uri", "content_hash", "status"]):
                if r["status"] != parts.KEPT:
                    continue
                k = make_worn_example(seeds[r["source_uri"]], SIZE).keypoints.copy()
                k[:, 2] = np.where(k[:, 2] > 0, 0.9, 0.0)
                extra = ({"boxes": [0, 0, SIZE, SIZE, 1]} if stage == "detect"
                         else {"keypoints": k.reshape(-1).tolist(), "person_box": [0, 0, SIZE, SIZE, 1]})
                rows.append(parts.row(r["source_uri"], r["content_hash"], parts.KEPT, None, **extra))
            parts.write_part(work / stage, i, rows, schema)
    segment(cfg)
    return cfg


def segment(cfg: CurationConfig) -> None:
    """(Re)run the real segment stage on the stand-in poses."""
    run_model_stage(curation_stage("segment"), Path(cfg.work_dir), cfg.segment, progress=False)
