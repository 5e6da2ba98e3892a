"""Building a set from a labelled folder: bad lines are recorded with one clear reason and skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np

from shoemodel.schemas.records import decode_image, keypoints_array, validate_record
from shoemodel.sets.config import SetsConfig
from shoemodel.sets.from_labels import build_set_from_labels
from shoemodel.store import iter_failures, iter_records


def test_sample_records_keep_exact_ground_truth(small_sample, small_sets):
    labels = [json.loads(line) for line in (small_sample / "shoe_leg" / "labels.jsonl").read_text().splitlines()]
    by_id = {rec["id"]: rec for rec in iter_records(small_sets["shoe_leg"])}
    assert set(by_id) == {lab["id"] for lab in labels}
    for lab in labels[:10]:
        rec = by_id[lab["id"]]
        validate_record(rec, "shoe_leg")
        np.testing.assert_allclose(keypoints_array(rec), np.asarray(lab["keypoints"]), atol=1e-3)
        mask = decode_image(rec["shoe_mask"], None) > 0
        img, shoe = decode_image(rec["image"]), decode_image(rec["shoe_image"])
        assert np.array_equal(shoe[mask], img[mask]) and not shoe[~mask].any()


def _broken_copy(small_sample, tmp_path):
    folder = tmp_path / "wa"
    shutil.copytree(small_sample / "wearable_area", folder)
    lines = (folder / "labels.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    (folder / first["image"]).write_bytes(b"\xff\xd8\xff garbage, not a jpeg")  # corrupt image
    second = json.loads(lines[1])
    second["split"] = 3  # wrong type
    lines[1] = json.dumps(second)
    third = json.loads(lines[2])
    third["area_mask"] = "masks/does-not-exist.png"  # missing file
    lines[2] = json.dumps(third)
    (folder / "labels.jsonl").write_text("\n".join(lines) + "\n")
    return folder, first["id"], second["id"]


def test_bad_inputs_are_recorded_and_skipped(small_sample, tmp_path):
    folder, *_ = _broken_copy(small_sample, tmp_path)
    m = build_set_from_labels(folder, tmp_path / "out", "wearable_area", SetsConfig(records_per_shard=8), progress=False)
    assert m.num_records == 29 and m.num_failures == 3
    reasons = {f.item.rsplit(":", 1)[1]: f.reason for f in iter_failures(tmp_path / "out")}
    assert "field 'image': cannot decode" in reasons["1"] and "images/" in reasons["1"]
    assert "field 'split': expected str, got int" in reasons["2"]
    assert "field 'area_mask': file not found" in reasons["3"] and "does-not-exist.png" in reasons["3"]


def test_cli_prints_one_line_per_bad_input_and_succeeds(small_sample, tmp_path):
    folder, *_ = _broken_copy(small_sample, tmp_path)
    (tmp_path / "empty.yaml").write_text("{}\n")  # built-in defaults, not the repo's params.yaml
    res = subprocess.run(
        [sys.executable, "-m", "shoemodel.cli", "build-set", "wearable_area", "--labels", str(folder), "--out", str(tmp_path / "o"),
         "--params", str(tmp_path / "empty.yaml")],
        capture_output=True, text=True, check=True,
    )
    skipped = [line for line in res.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 3, res.stderr
    assert "29 records" in res.stdout


def test_dask_local_cluster_builds_the_same_set(small_sample, small_sets, tmp_path):
    from shoemodel.parallel import ExecutorConfig, executor_from_config
    from shoemodel.store import read_manifest

    with executor_from_config(ExecutorConfig(kind="local", n_workers=2)) as ex:
        m = build_set_from_labels(small_sample / "shoe_leg", tmp_path / "d", "shoe_leg", SetsConfig(records_per_shard=16), executor=ex, progress=False)
    ref = read_manifest(small_sets["shoe_leg"])
    assert [s.sha256 for s in m.shards] == [s.sha256 for s in ref.shards]
