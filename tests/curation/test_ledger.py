"""The curation ledger: every input file and every detected person, at every stage, with outcome and reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from shoemodel.curation import ledger, parts
from shoemodel.curation.config import CurationConfig, DetectConfig
from shoemodel.curation.detect import select_persons, select_with_verdicts


def test_reason_codes_and_the_numbers_behind_them() -> None:
    assert ledger.reason_code("too small: 1x1, min side 32") == "too small"
    assert ledger.reason_numbers("too small: 1x1, min side 32") == (1.0, 32.0)
    assert ledger.reason_numbers("too large: 5000 bytes > 4000") == (5000.0, 4000.0)
    assert ledger.reason_numbers("too large: 100x200 pixels > 10000") == (20000.0, 10000.0)
    assert ledger.reason_numbers("no complete foot: 0 < 1") == (0.0, 1.0)
    assert ledger.reason_code("mask qc: speck: 0.012 of the expected foot area") == "mask qc: speck"
    assert ledger.reason_code("mask qc: mask has 3 components") == "mask qc: mask has N components"
    assert ledger.reason_code("mask qc: mask covers the calf (0.45)") == "mask qc: mask covers the calf"
    assert ledger.reason_code(None) is None


def test_every_detected_box_gets_a_verdict_and_the_photo_keeps_its_reason() -> None:
    cfg = DetectConfig(score_threshold=0.5, min_box_height_frac=0.3, bottom_margin_frac=0.02, max_persons=1)
    det = np.array([[0, 0, 10, 90, 0.9], [20, 10, 60, 60, 0.8], [70, 0, 100, 99.5, 0.95], [0, 0, 5, 50, 0.2],
                    [0, 0, 5, 10, 0.85]], np.float32)
    keep, reason, verdicts = select_with_verdicts(det, None, 100, 100, cfg)
    assert reason is None and np.array_equal(keep, select_persons(det, None, 100, 100, cfg)[0])
    assert [v["person"] for v in verdicts] == list(range(len(det)))  # every box, kept ones first
    by_score = {round(v["box"][4], 2): v for v in verdicts}
    assert by_score[0.8]["outcome"] == "kept" and by_score[0.8]["person"] == 0  # the larger box, as the row holds it
    assert by_score[0.9]["outcome"] == "dropped" and by_score[0.9]["reason"].startswith("beyond max_persons")
    assert (by_score[0.95]["reason"], by_score[0.95]["threshold"]) == ("lower legs not in the box", pytest.approx(0.98))
    assert (by_score[0.2]["reason"], by_score[0.2]["value"], by_score[0.2]["threshold"]) == ("low score", pytest.approx(0.2), 0.5)
    small = [v for v in verdicts if v["box"][3] == 10][0]
    assert small["reason"] == "person too small" and small["value"] == pytest.approx(0.1)
    for sub in (det[2:3], det[3:4], det[4:5], det[:0]):  # the photo's reason is the old one
        assert select_with_verdicts(sub, None, 100, 100, cfg)[1] == select_persons(sub, None, 100, 100, cfg)[1]


def test_a_part_is_trusted_only_with_its_ledger_part(tmp_path: Path) -> None:
    schema = pa.schema(parts.BASE_FIELDS)
    rows = [parts.row("a", "h", parts.KEPT), parts.row("b", None, parts.DROPPED, "too small: 1x1, min side 32")]
    parts.write_part(tmp_path / "ingest", 0, rows, schema, "fp0")
    assert parts.part_fingerprint(tmp_path / "ingest", 0) == "fp0"
    got = next(ledger.iter_stage(tmp_path, "ingest"))
    assert [(r["source_uri"], r["outcome"], r["reason"], r["value"], r["threshold"]) for r in got] == [
        ("a", "kept", None, None, None), ("b", "dropped", "too small", 1.0, 32.0)]
    os.utime(ledger.ledger_path(tmp_path / "ingest", 0), ns=(1, 1))  # e.g. a copied folder: the footer decides
    assert parts.part_fingerprint(tmp_path / "ingest", 0) == "fp0"
    meta = pq.read_schema(parts.part_path(tmp_path / "ingest", 0)).metadata
    assert not any(b"mtime" in v or b"stat" in k for k, v in meta.items())  # a part hashes the same in a fresh clone
    ledger.write_ledger_part(tmp_path / "ingest", 0, [], "another")  # a ledger part of another run of the part
    assert parts.part_fingerprint(tmp_path / "ingest", 0) is None
    ledger.ledger_path(tmp_path / "ingest", 0).unlink()  # a crash between the two writes
    assert parts.part_fingerprint(tmp_path / "ingest", 0) is None
    parts.remove_parts_except(tmp_path / "ingest", [])
    assert not list((tmp_path / "ingest").rglob("*.parquet"))


def test_counts_that_do_not_add_up_are_named() -> None:
    counts = {"detect": {"photos": {"in": 5, "kept": 4, "dropped": {"no person": 1}, "failed": {}}},
              "pose": {"photos": {"in": 3, "kept": 3, "dropped": {}, "failed": {}}}}
    problems = ledger.check(counts, {"detect": "ingest", "pose": "detect"})
    assert problems == ["pose photos: in 3 != detect kept 4"]


def _bad_folder(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)).save(folder / f"ok{i}.png")
    (folder / "same_as_ok0.png").write_bytes((folder / "ok0.png").read_bytes())
    (folder / "text.jpg").write_text("hello")
    Image.new("RGB", (1, 1)).save(folder / "dot.png")
    data = (folder / "ok1.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    return folder


def test_ingest_and_detect_record_every_file_and_the_counts_add_up(tmp_path: Path) -> None:
    from shoemodel.curation.pipeline import run_all

    cfg = CurationConfig(work_dir=str(tmp_path / "work"), progress=False)
    cfg.ingest.sources, cfg.ingest.part_size = [str(_bad_folder(tmp_path / "photos"))], 3
    cfg.detect.backend = "full_frame"
    cfg.gpu_resources = {}
    summary = run_all(cfg, tmp_path / "set", stages=("ingest", "detect"))
    rows = [r for part in ledger.iter_stage(cfg.work_dir, "ingest") for r in part]
    assert sorted(Path(r["source_uri"]).name for r in rows) == sorted(p.name for p in (tmp_path / "photos").iterdir())
    outcome = {Path(r["source_uri"]).name: (r["outcome"], r["reason"]) for r in rows}
    assert outcome["text.jpg"] == ("dropped", "not an image") and outcome["dot.png"] == ("dropped", "too small")
    assert outcome["cut.png"][1] == "truncated or corrupt"
    assert sorted(v for v in outcome.values() if v[1] == "duplicate") == [("dropped", "duplicate")]
    totals = json.loads((tmp_path / "work" / ledger.TOTALS).read_text())
    assert totals["ingest"]["photos"]["in"] == 7 and totals["ingest"]["photos"]["kept"] == 3
    assert totals["detect"]["photos"]["in"] == 3 and totals["detect"]["persons"]["kept"] == 3
    assert summary["detect"]["persons"]["in"] == 3  # printed beside the photo counts
    assert summary["ingest"]["dropped"] == totals["ingest"]["photos"]["dropped"]
    detect_rows = [r for part in ledger.iter_stage(cfg.work_dir, "detect") for r in part]
    assert sum(r["person"] is not None for r in detect_rows) == 3
    assert all(r["box"] is not None for r in detect_rows if r["person"] is not None)
