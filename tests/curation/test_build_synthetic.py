"""Segment + build without fixtures: synthetic worn scenes with exact keypoints stand in for the pose stage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from shoemodel.curation import parts
from shoemodel.curation.build import run_build
from shoemodel.curation.config import BuildConfig, IngestConfig, SegmentConfig
from shoemodel.curation.detect import DETECT_SCHEMA
from shoemodel.curation.ingest import run_ingest
from shoemodel.curation.pose import POSE_SCHEMA
from shoemodel.curation.runner import run_model_stage
from shoemodel.curation.stages import stage as curation_stage
from shoemodel.schemas.records import decode_image, keypoints_array, validate_record
from shoemodel.sets.splits import split_for
from shoemodel.store import iter_failures, iter_records
from shoemodel.synthetic.examples import make_worn_example


def test_segment_and_build_on_synthetic_scenes_with_exact_keypoints(tmp_path: Path) -> None:
    raw, work = tmp_path / "raw", tmp_path / "work"
    raw.mkdir()
    truth = {}
    for seed in range(10):
        ex = make_worn_example(seed, 128)
        p = raw / f"{seed:03d}.png"
        Image.fromarray(ex.image).save(p)
        truth[str(p)] = ex
    run_ingest(work / "ingest", IngestConfig(sources=[str(raw)], part_size=4), progress=False)
    for stage, schema in (("detect", DETECT_SCHEMA), ("pose", POSE_SCHEMA)):  # exact stand-ins for the model stages
        (work / stage / "parts").mkdir(parents=True)
        (work / stage / parts.FINGERPRINT).write_text(json.dumps({"fingerprint": f"truth-{stage}"}))
        for i in parts.part_indices(work / "ingest"):
            rows = []
            for r in parts.read_part(work / "ingest", i, ["source_uri", "content_hash"]):
                k = truth[r["source_uri"]].keypoints.copy()
                k[:, 2] = np.where(k[:, 2] > 0, 1.0, 0.0)
                extra = {"boxes": [0, 0, 128, 128, 1]} if stage == "detect" else {"keypoints": k.reshape(-1).tolist(), "person_box": [0, 0, 128, 128, 1]}
                rows.append(parts.row(r["source_uri"], r["content_hash"], parts.KEPT, None, **extra))
            parts.write_part(work / stage, i, rows, schema)
    # person_mask none: MediaPipe's person segmenter sees no person in these drawn legs (it is for photos)
    seg = run_model_stage(curation_stage("segment"), work, SegmentConfig(backend="grabcut", person_mask="none", min_quality=0.0,
                                                                                  refine_below=0.0),
                          progress=False)  # no quality floor (shoe prior agreement: photos, not drawings); keypoints exact: none refined
    assert seg.inputs == 10 and seg.kept + sum(seg.dropped.values()) + sum(seg.failed.values()) == 10
    assert seg.kept >= 7 and not seg.failed
    manifest = run_build(work, tmp_path / "set", BuildConfig(records_per_shard=4), thresholds={"note": "test"},
                         chain=("ingest", "detect", "pose", "segment"), progress=False)
    recs = list(iter_records(tmp_path / "set"))
    assert manifest.num_records == len(recs) == seg.kept and not list(iter_failures(tmp_path / "set"))
    ious = []
    for r in recs:
        validate_record(r, "shoe_leg")
        ex = truth[r["source_uri"]]
        mask = decode_image(r["shoe_mask"], "L") > 127
        shoe = decode_image(r["shoe_image"], "RGB")
        assert np.all(shoe[~mask] == 0) and np.array_equal(shoe[mask], ex.image[mask])  # X_m = shoe pixels on black
        np.testing.assert_allclose(keypoints_array(r)[:, :2], ex.keypoints[:, :2], atol=1e-4)
        assert r["split"] == split_for(r["content_hash"], 0.05, 0.05)
        assert json.loads(r["provenance"])["mask_source"] == "grabcut"
        ious.append((mask & ex.shoe_mask).sum() / (mask | ex.shoe_mask).sum())
    assert np.mean(ious) >= 0.6, np.round(ious, 2)  # GrabCut from exact foot points (measured mean ~0.76)
