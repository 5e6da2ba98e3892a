"""Shard store: bounded shards, manifest, streaming reads, resume after a crash (no duplicate, no loss)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from shoemodel.schemas.builder import build_record
from shoemodel.store import iter_failures, iter_records, read_manifest, write_set
from shoemodel.store.writer import Dropped


def make_record(i: int, crash_at: int | None = None) -> dict:
    """A tiny valid wearable-area record for item i (item 13 is broken, multiples of 10 are dropped)."""
    if crash_at is not None and i == crash_at:
        raise KeyboardInterrupt("simulated crash")
    if i == 13:
        raise ValueError("broken input 13")
    if i % 10 == 0:
        raise Dropped("filtered")
    img = np.full((6, 6, 3), i % 256, np.uint8)
    mask = np.zeros((6, 6), np.uint8)
    mask[1:4, 1:4] = 1
    return build_record("wearable_area", id=f"r{i}", source_uri=f"mem://{i}", split="train", provenance={},
                        image=img, shoe_image=img, area_mask=mask)


def test_write_read_manifest_and_failures(tmp_path):
    m = write_set(tmp_path / "s", "wearable_area", range(45), make_record, records_per_shard=10, progress=False)
    assert len(m.shards) == 5 and all(s.file.endswith("-train.parquet") for s in m.shards)  # one split: a file per shard
    assert m.num_failures == 6 and sum(s.num_records for s in m.shards[:4]) == 40 - 5
    ids = [r["id"] for r in iter_records(tmp_path / "s", columns=["id"])]
    expected = [f"r{i}" for i in range(45) if i % 10 != 0 and i != 13]
    assert ids == expected and m.num_records == len(expected)
    fails = {f.item: f for f in iter_failures(tmp_path / "s")}
    assert fails["13"].kind == "failed" and "broken input 13" in fails["13"].reason
    assert fails["20"].kind == "dropped"
    assert m.failures_by_reason == {"dropped: filtered": 5, "failed: ValueError": 1}
    on_disk = read_manifest(tmp_path / "s")
    assert on_disk.num_records == m.num_records and on_disk.shards[0].sha256 == m.shards[0].sha256


def test_crash_mid_shard_then_resume_gives_the_uninterrupted_set(tmp_path):
    ref = write_set(tmp_path / "ref", "wearable_area", range(45), make_record, records_per_shard=10, progress=False)
    with pytest.raises(KeyboardInterrupt):
        write_set(tmp_path / "s", "wearable_area", range(45), partial(make_record, crash_at=27), records_per_shard=10, progress=False)
    shards = sorted(p.name for p in (tmp_path / "s" / "shards").iterdir())
    assert shards == ["shard-00000-train.parquet", "shard-00000.json", "shard-00001-train.parquet", "shard-00001.json"], shards
    calls = []

    def counting(i):
        calls.append(i)
        return make_record(i)

    resumed = write_set(tmp_path / "s", "wearable_area", range(45), counting, records_per_shard=10, progress=False)
    assert min(calls) == 20, "finished shards are not redone"
    assert [s.sha256 for s in resumed.shards] == [s.sha256 for s in ref.shards]
    ids = [r["id"] for r in iter_records(tmp_path / "s", columns=["id"])]
    assert len(ids) == len(set(ids)) == ref.num_records


def test_changed_input_fingerprint_starts_over(tmp_path):
    write_set(tmp_path / "s", "wearable_area", range(30), make_record, records_per_shard=10, fingerprint={"v": 1}, progress=False)
    m = write_set(tmp_path / "s", "wearable_area", range(11, 16), make_record, records_per_shard=10, fingerprint={"v": 2}, progress=False)
    assert [r["id"] for r in iter_records(tmp_path / "s", columns=["id"])] == ["r11", "r12", "r14", "r15"]
    assert len(m.shards) == 1


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from foundation.test_store import make_record
    from shoemodel.store import write_set

    def slow(i):
        time.sleep(0.02)
        return make_record(i)

    write_set(sys.argv[1], "wearable_area", range(200), slow, records_per_shard=20, progress=False)
    """
)


def test_real_process_killed_mid_run_resumes_identically(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(_KILL_SCRIPT.format(tests=str(Path(__file__).resolve().parents[1])))
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(out)])
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "shards" / "shard-00002.json").exists():
        time.sleep(0.05)
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = list((out / "shards").glob("*.parquet"))
    assert 0 < len(done) < 10, "killed mid-run"
    subprocess.run([sys.executable, str(script), str(out)], check=True)
    ref = write_set(tmp_path / "ref", "wearable_area", range(200), make_record, records_per_shard=20, progress=False)
    got = read_manifest(out)
    assert [s.sha256 for s in got.shards] == [s.sha256 for s in ref.shards]
    assert not list((out / "shards").glob(".*.tmp"))


def test_reader_streams_by_split(small_sets):
    val = list(iter_records(small_sets["shoe_leg"], columns=["id"], split="val"))
    all_ids = [r["id"] for r in iter_records(small_sets["shoe_leg"], columns=["id", "split"])]
    assert 0 < len(val) < len(all_ids)
    manifest = json.loads((small_sets["shoe_leg"] / "manifest.json").read_text())
    assert manifest["schema_version"] == "1.2" and manifest["num_records"] == len(all_ids) == 48


def test_hf_datasets_reads_the_shards(small_sets):
    from shoemodel.store import to_hf_dataset

    ds = to_hf_dataset(small_sets["wearable_area"])
    assert sum(len(d) for d in ds.values()) == 32 and "area_mask" in ds["train"].column_names
