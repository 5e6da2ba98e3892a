"""The bad-input corpus: every case gets its named outcome, nothing is lost, and the counts add up."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from shoemodel.curation import parts
from shoemodel.curation.config import IngestConfig
from shoemodel.curation.ingest import run_ingest
from shoemodel.schemas.records import decode_image
from shoemodel.sets.config import SetsConfig
from shoemodel.sets.from_labels import build_set_from_labels
from shoemodel.store import iter_failures, iter_records, read_manifest
from shoemodel.store.names import id_file_name
from tests.reliability.corpus import ingest_corpus, labelled_corpus


def _rows(stage_dir: Path) -> dict[str, dict]:
    return {Path(r["source_uri"]).name: r for i in parts.part_indices(stage_dir) for r in parts.read_part(stage_dir, i)}


def test_ingest_counts_every_listed_entry_with_its_reason(tmp_path: Path) -> None:
    exp = ingest_corpus(tmp_path / "raw")
    s = run_ingest(tmp_path / "ingest", IngestConfig(sources=[str(tmp_path / "raw")], part_size=4), progress=False)
    rows = _rows(tmp_path / "ingest")
    assert set(rows) == set(exp)  # the broken link, the folder named .jpg and the unknown suffixes are listed too
    dups = {Path(d[2]).name for d in json.loads((tmp_path / "ingest" / "duplicates.json").read_text())}
    for name, reason in exp.items():
        r = rows[name]
        if reason == "":
            assert r["status"] == "kept" and name not in dups, (name, r["reason"])
        elif reason == "duplicate":
            assert r["status"] == "kept" and name in dups, name
        else:
            assert r["status"] in ("dropped", "failed") and r["reason"].startswith(reason), (name, r["reason"])
    assert s.inputs == len(exp) == s.kept + sum(s.dropped.values()) + sum(s.failed.values())
    assert s.kept == sum(1 for v in exp.values() if v == "")
    assert s.dropped["duplicate"] == 8  # the exact copy and seven re-encoded copies: one survivor each
    assert rows["k_phone.mpo"]["format"] == "JPEG" and (rows["k_phone.mpo"]["width"], rows["k_phone.mpo"]["height"]) == (120, 80)
    assert (rows["l_rotated.jpg"]["width"], rows["l_rotated.jpg"]["height"]) == (48, 80)


def test_a_mistyped_source_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("{}\n")
    res = subprocess.run([sys.executable, "-m", "shoemodel.cli", "--params", str(tmp_path / "empty.yaml"), "curate", "ingest",
                          str(tmp_path / "phtoos"), "--work-dir", str(tmp_path / "w"), "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "phtoos" in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_build_set_refuses_bad_records_with_the_reason(tmp_path: Path) -> None:
    folder, exp = labelled_corpus(tmp_path)
    m = build_set_from_labels(folder, tmp_path / "set", "wearable_area", SetsConfig(records_per_shard=4), progress=False)
    failures = {f.item.rsplit(":", 1)[1]: f.reason for f in iter_failures(tmp_path / "set")}
    kept = {k for k, v in exp.items() if v == ""}
    assert set(failures) == set(exp) - kept
    for line, reason in exp.items():
        if reason:
            assert failures[line].startswith(reason), (line, failures[line])
    assert m.num_records + m.num_failures == len(exp)  # every line is a record or a recorded failure
    recs = {r["id"]: r for r in iter_records(tmp_path / "set")}
    assert set(recs) == {"shoe/1", "shoe_1", "grey-16bit", "rotated-upright-mask"}
    assert "draw the mask on the upright photo" in failures["9"]
    grey = decode_image(recs["grey-16bit"]["image"], "L")
    src = np.asarray(Image.open(folder / "images" / "grey16.png"), dtype=np.float64)
    assert np.abs(grey - src * 255 / 65535).max() <= 1  # scaled, not clipped to white
    assert grey.min() == 0 and grey.max() == 255
    with Image.open(io.BytesIO(recs["rotated-upright-mask"]["image"])) as up:
        assert up.size == (32, 48)
    assert id_file_name("shoe/1") != id_file_name("shoe_1") != id_file_name("shoe:1")


def test_allow_outside_lets_paths_leave_the_folder(tmp_path: Path) -> None:
    folder, _ = labelled_corpus(tmp_path)
    m = build_set_from_labels(folder, tmp_path / "set", "wearable_area", SetsConfig(allow_outside=True), progress=False)
    ids = {r["id"] for r in iter_records(tmp_path / "set", columns=["id"])}
    assert "out-1" in ids and "out-2" not in ids  # /etc/passwd is still not an image
    assert m.num_records + m.num_failures == 14


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    folder, _ = labelled_corpus(tmp_path)
    old = os.umask(0o022)
    try:
        from shoemodel.store import atomic

        atomic._UMASK.clear()
        build_set_from_labels(folder, tmp_path / "set", "wearable_area", progress=False)
        run_ingest(tmp_path / "ingest", IngestConfig(sources=[str(folder / "images")]), progress=False)
    finally:
        os.umask(old)
        atomic._UMASK.clear()
    files = [p for p in [*(tmp_path / "set").rglob("*"), *(tmp_path / "ingest").rglob("*")] if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files), \
        {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if stat.S_IMODE(p.stat().st_mode) != 0o644}


def test_validate_reports_a_damaged_shard_as_a_finding(tmp_path: Path) -> None:
    folder, _ = labelled_corpus(tmp_path)
    build_set_from_labels(folder, tmp_path / "set", "wearable_area", SetsConfig(records_per_shard=2), progress=False)
    shards = read_manifest(tmp_path / "set").shards
    first = tmp_path / "set" / shards[0].file
    first.write_bytes(first.read_bytes()[:200])
    (tmp_path / "empty.yaml").write_text("{}\n")
    res = subprocess.run([sys.executable, "-m", "shoemodel.cli", "--params", str(tmp_path / "empty.yaml"), "validate",
                          str(tmp_path / "set")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert first.name in res.stderr and "truncated" in res.stderr
    assert f"{sum(s.num_records for s in shards[1:])} records checked, 1 problems" in res.stdout
