"""Snapshot -> annotated set without a server: task states, agreement threshold, failure recording."""

from __future__ import annotations

import json

import numpy as np

from shoemodel.annotation.brush import mask_to_results
from shoemodel.annotation.importer import build_set, task_state
from shoemodel.schemas.records import decode_image
from shoemodel.store import iter_failures, iter_records
from tests.helpers.sets import write_pool


def _ann(mask, i, cancelled=False, empty=False):
    return {"id": i, "was_cancelled": cancelled, "result": [] if (empty or cancelled) else mask_to_results(mask),
            "created_username": f" a{i}@example.com, {i}", "lead_time": 1.0 + i,
            "created_at": f"2026-01-0{i}T00:00:00Z", "updated_at": f"2026-01-0{i}T00:00:00Z"}


def test_states_drops_and_agreement_threshold(tmp_path):
    pool = write_pool(tmp_path / "pool", 5)
    m = decode_image(next(iter_records(pool))["area_mask"], "L")
    other = np.zeros_like(m)
    other[:3] = 2
    tasks = [
        {"id": 1, "data": {"record_id": "shoe/0000", "round": 1}, "annotations": [_ann(m, 1)]},
        {"id": 2, "data": {"record_id": "shoe/0001", "round": 1}, "annotations": [_ann(m, 1, cancelled=True)]},
        {"id": 3, "data": {"record_id": "shoe/0002", "round": 1}, "annotations": [_ann(m, 1, empty=True)]},
        {"id": 4, "data": {"record_id": "shoe/0003", "round": 2}, "annotations": []},
        {"id": 5, "data": {"record_id": "shoe/0004", "round": 2}, "annotations": [_ann(m, 1), _ann(other, 2)]},
    ]
    assert [task_state(t) for t in tasks] == ["done", "skipped", "empty", "pending", "done"]
    snap = tmp_path / "tasks.jsonl"
    snap.write_text("".join(json.dumps(t) + "\n" for t in tasks))

    report = build_set(snap, pool, tmp_path / "out")
    assert report.records == 2 and report.pending == 1 and report.dropped == {"skipped": 1, "empty": 1}
    meta = {r["id"]: json.loads(r["annotation"]) for r in iter_records(tmp_path / "out")}
    assert meta["shoe/0004"]["annotators"] == ["a1@example.com", "a2@example.com"]
    low = meta["shoe/0004"]["agreement_miou"]
    assert low < 0.5 and meta["shoe/0000"]["agreement_miou"] is None

    report = build_set(snap, pool, tmp_path / "strict", min_agreement=0.9)
    assert report.records == 1 and report.dropped == {"skipped": 1, "empty": 1, "low agreement": 1}
    assert any(f.reason.startswith("low agreement") for f in iter_failures(tmp_path / "strict"))
