"""`shoemodel browse` on a curated set opens its ledger too (FiftyOne on its real database, a mongod the tests start)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoemodel.curation import ledger
from tests.curation.conftest import _photo_config
from tests.curation.ledger_folder import make_mixed_folder

pytestmark = [pytest.mark.server, pytest.mark.fixtures, pytest.mark.slow]


def test_dropped_persons_are_tagged_with_their_reason_and_records_sort_by_quality(tmp_path, fixtures_dir: Path, mongo_uri):
    pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 not installed")
    weights = fixtures_dir / "weights" / "yolox_nano" / "yolox_nano.onnx"
    if not weights.exists():
        pytest.skip(f"YOLOX-Nano weights not in fixtures ({weights})")
    from shoemodel.annotation.browse import load_set
    from shoemodel.annotation.browse_ledger import reason_view
    from shoemodel.curation.pipeline import run_all

    folder = make_mixed_folder(fixtures_dir, tmp_path / "photos")
    cfg = _photo_config(tmp_path / "set.work", [str(folder)], weights)
    cfg.gpu_resources = {}
    run_all(cfg, tmp_path / "set")
    ds = load_set(tmp_path / "set", name="t-ledger", media_dir=tmp_path / "media")

    rows = [r for s in ("ingest", "detect", "pose", "segment") for part in ledger.iter_stage(cfg.work_dir, s)
            for r in part if r["outcome"] != "kept"]
    on_record = ds.match_tags("ledger")
    assert len(on_record) == len(rows)  # every photo and person curation dropped or failed
    persons = on_record.exists("ledger_person")
    assert len(persons) == sum(r["person"] is not None for r in rows) > 0
    for s in persons:
        tag = f"{s['ledger_stage']}: {s['ledger_reason']}"
        assert tag in s.tags and s["ledger_box"].detections[0].label == s["ledger_reason"]
        assert all(0 <= v <= 1.01 for v in s["ledger_box"].detections[0].bounding_box[:2])
    views = ds.list_saved_views()
    for r in rows:
        assert reason_view(r["stage"], r["reason"]) in views, r["reason"]
    assert reason_view("segment", "mask qc: thin") == "ledger-segment-mask-qc-thin"
    view = ds.load_saved_view("ledger-pose-no-complete-foot")
    assert len(view) == sum(r["stage"] == "pose" and r["reason"] == "no complete foot" for r in rows)
    kept = ds.load_saved_view("kept-by-quality")
    scores = kept.values("quality")
    assert len(kept) == ds.match_tags("ledger", bool=False).match_tags("dropped", bool=False).count() > 0
    assert scores == sorted(scores) and all(0 < q <= 1 for q in scores)
    assert set(kept.values("quality_source")) == {"quality score"}  # the segment stage scores every kept record
