"""The curation throughput benchmark (benchmarks/curation/throughput.py) sends every image through every model.

Its config opens every filter of every stage; every row counts the images that entered and left each model and
the run fails in one line when a row lost one (or SAM got other than 2 foot prompts per image). The small run
takes ~30 s on 2 cores (tiny random models, 4 fixture photos).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "curation" / "throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("throughput_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cfg(bench, tmp_path: Path):
    files = {"yolox": tmp_path / "y.onnx", "vitpose": tmp_path / "v", "sam": tmp_path / "s.pth"}
    return bench.config(tmp_path / "work", [str(tmp_path)], files, "cpu", "float32", 2, 0, 0.25)


def test_config_opens_every_drop_rule(bench, tmp_path: Path) -> None:
    """Rows that the default filters drop pass the benchmark's: detect, pose sanity and mask QC."""
    from shoemodel.curation.detect import select_persons
    from shoemodel.curation.mask_qc import check_mask
    from shoemodel.curation.pose import quality_reason
    from shoemodel.curation.prompts import foot_prompts
    from shoemodel.schemas.keypoints import KEYPOINT_NAMES

    cfg = _cfg(bench, tmp_path)
    assert not cfg.ingest.near_duplicates
    # a tiny box touching the image bottom, its feet covered by a box in front
    det = np.array([[10, 90, 20, 100, 0.3], [0, 95, 100, 101, 0.3]], np.float32)
    keep, reason = select_persons(det, None, 100, 101, cfg.detect)
    assert reason is None and len(keep) == 1
    # points far outside the box, swapped feet, absurd bone lengths
    k = np.zeros((12, 3), np.float32)
    for i in range(len(KEYPOINT_NAMES)):
        k[i] = (50 + 17 * i, 250 - 9 * i, 0.9)
    box = np.array([0, 0, 10, 10, 1], np.float32)
    assert quality_reason(k, box, cfg.pose) is None
    # a mask that is the whole prompt box (and then some), and an empty-ish speck, both pass with min_feet=0
    prompts = foot_prompts(k, 300, 300, cfg.segment.box_padding, cfg.segment.negative_on_calf)
    assert prompts
    full = np.ones((300, 300), bool)
    assert check_mask(full, prompts[0], cfg.segment)[1] is None
    assert cfg.segment.min_feet == 0


def test_incomplete_names_the_row_that_lost_images(bench) -> None:
    ok = {"detect": {"in": 4, "out": 4}, "pose": {"in": 4, "out": 4}, "segment": {"in": 4, "out": 4}}
    pp = {"min": 2, "max": 2, "mean": 2.0}
    one = {s: {k: {"models": {s: ok[s]}, **({"prompts_per_image": pp} if s == "segment" else {})}
               for k in ("naive", "batched", "bare_forward")} for s in bench.STAGES}
    res = {"stages": one, "end_to_end": {k: {"models": dict(ok), "prompts_per_image": pp} for k in ("naive", "batched", "fused")}}
    assert bench.incomplete(res, 4) == []
    res["end_to_end"]["naive"]["models"]["segment"] = {"in": 4, "out": 1, "dropped": {"no foot prompt": 3}}
    res["end_to_end"]["fused"]["prompts_per_image"] = {"min": 0, "max": 2, "mean": 1.0}
    bad = bench.incomplete(res, 4)
    assert bad == ["end to end naive: segment 4 in, 1 out of 4 (no foot prompt 3)",
                   "end to end fused: SAM prompts per image {'min': 0, 'max': 2, 'mean': 1.0} (want 2)"]


@pytest.mark.slow
@pytest.mark.fixtures
def test_small_run_sends_every_image_through_every_model(fixtures_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "SHOEMODEL_FIXTURES": str(fixtures_dir), "PYTHONPATH": str(REPO)}
    stem = tmp_path / "res"
    p = subprocess.run([sys.executable, str(SCRIPT), "--n", "4", "--batch", "2", "--threads", "1", "--no-cluster",
                        "--out", str(stem)], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(stem.with_suffix(".json").read_text())
    assert res["every_image_through_every_model"] is True
    for name, s in res["stages"].items():
        for kind in ("naive", "batched", "bare_forward"):
            assert s[kind]["models"][name] == {"in": 4, "out": 4}, (name, kind, s[kind]["models"])
    assert res["stages"]["segment"]["bare_forward"]["prompts_per_image"] == {"min": 2, "max": 2, "mean": 2.0}
    for kind in ("naive", "batched", "fused"):
        row = res["end_to_end"][kind]
        assert all(row["models"][n] == {"in": 4, "out": 4} for n in ("detect", "pose", "segment")), (kind, row["models"])
        assert row["prompts_per_image"] == {"min": 2, "max": 2, "mean": 2.0}, kind


def test_open_config_keeps_the_models(bench, tmp_path: Path) -> None:
    cfg = _cfg(bench, tmp_path)
    assert (cfg.detect.backend, cfg.pose.backend, cfg.segment.backend) == ("yolox_onnx", "vitpose", "sam")
    assert cfg.detect.max_persons == 1  # one person per image: SAM gets 2 feet per image, as the bare forward
    assert dataclasses.asdict(cfg.detect)["score_threshold"] == 0.25
