"""The review corrections table and how `curate build` applies it (no server: the table is written here as the
import would write it). The Label Studio round trip is tests/annotation/test_review_round.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation.corrections import (
    KEEP,
    REJECT,
    REJECTED_REASON,
    Correction,
    CorrectionsError,
    encode_mask,
    load_corrections,
    merge_corrections,
    save_corrections,
)
from shoemodel.curation.pipeline import run_all
from shoemodel.curation.review import mask_qc_score, review_priority, select
from shoemodel.schemas.records import decode_image, keypoints_array, validate_record
from shoemodel.store import iter_failures, iter_records
from tests.curation.review_helpers import SIZE, curated_config


def _kp(shift: float = 0.0) -> list[float]:
    k = np.zeros((12, 3), np.float32)
    k[:, 0], k[:, 1], k[:, 2] = np.arange(12) * 3 + 5 + shift, np.arange(12) * 2 + 7, 0.8
    return [float(v) for v in k.reshape(-1)]


def _mask(x0: int, y0: int, w: int = 20, h: int = 10, size: int = SIZE) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[y0:y0 + h, x0:x0 + w] = True
    return m


def _keep(content_hash: str, person: int = 0, when: str = "2026-12-01T10:00:00", **kw) -> Correction:
    return Correction(content_hash=content_hash, person=person, decision=KEEP, width=SIZE, height=SIZE,
                      keypoints=_kp(), left_mask=encode_mask(_mask(10, 90)), right_mask=encode_mask(_mask(60, 95)),
                      person_box=[0, 0, SIZE, SIZE, 1.0], review={"round": 1, "updated_at": when}, **kw)


def test_table_round_trip_is_sorted_and_byte_stable(tmp_path: Path) -> None:
    path = tmp_path / "review" / "corrections.jsonl"
    table = {c.key: c for c in (_keep("b" * 64, 1), _keep("a" * 64), Correction("c" * 64, 0, REJECT, SIZE, SIZE))}
    save_corrections(path, table)
    first = path.read_bytes()
    lines = [json.loads(line) for line in first.decode().splitlines()]
    assert [(d["content_hash"][0], d["person"]) for d in lines] == [("a", 0), ("b", 1), ("c", 0)]
    back = load_corrections(path)
    assert back == table
    save_corrections(path, back)
    assert path.read_bytes() == first  # an unchanged table rewrites the same bytes: git and DVC see no change
    union = back[("a" * 64, 0)].shoe_mask()
    np.testing.assert_array_equal(union, _mask(10, 90) | _mask(60, 95))
    assert load_corrections(tmp_path / "absent.jsonl") == {} and load_corrections("") == {}


def test_merge_keeps_unreviewed_entries_and_takes_the_later_review() -> None:
    old = {c.key: c for c in (_keep("a" * 64, when="2026-12-01"), _keep("b" * 64, when="2026-12-01"))}
    newer = replace(_keep("a" * 64, when="2026-12-02"), decision=REJECT, keypoints=None, left_mask=None, right_mask=None)
    older = replace(_keep("b" * 64, when="2026-11-30"), decision=REJECT)
    merged = merge_corrections(old, [newer, older])
    assert merged[("a" * 64, 0)].decision == REJECT  # reviewed again later: the later review wins
    assert merged[("b" * 64, 0)].decision == KEEP  # a stale review does not undo a newer one
    assert len(merged) == 2


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(decision="maybe"), "decision 'maybe'"),
    (lambda d: d.update(keypoints=[1.0, 2.0]), "keypoints must hold 36"),
    (lambda d: d.update(left_mask=None, right_mask=None), "needs a left or right shoe mask"),
    (lambda d: d.update(left_mask="not base64 png"), "left_mask is not a base64 PNG"),
    (lambda d: d.update(colour="red"), "unknown field(s) ['colour']"),
    (lambda d: d.update(width=64), "the photo 64x128"),
])
def test_a_bad_line_is_one_error_naming_the_file_line_and_field(tmp_path: Path, edit, message) -> None:
    path = tmp_path / "corrections.jsonl"
    save_corrections(path, {c.key: c for c in (_keep("a" * 64), _keep("b" * 64))})
    lines = path.read_text().splitlines()
    bad = json.loads(lines[1])
    edit(bad)
    path.write_text(lines[0] + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(CorrectionsError) as err:
        load_corrections(path)
    assert f"{path}:2" in str(err.value) and message in str(err.value)
    path.write_text("{not json\n")
    with pytest.raises(CorrectionsError, match=":1: not JSON"):
        load_corrections(path)


def test_review_priority_reads_quality_when_present_else_the_mask_qc() -> None:
    good = {"ok": True, "box_fill": 0.3, "foot_area_ratio": 1.2, "thickness_ratio": 0.4, "other_foot_frac": 0.0,
            "above_ankle_frac": 0.05, "leg_overlap": 0.0}
    poor = {**good, "box_fill": 0.8, "other_foot_frac": 0.3}
    assert 0.5 < mask_qc_score([good, good]) <= 1.0
    assert mask_qc_score([good, poor]) < mask_qc_score([good, good])
    assert mask_qc_score([good]) == pytest.approx(mask_qc_score([good, good]) / 2)  # one foot only: half as sure
    assert mask_qc_score(json.dumps([{"ok": False}, {"ok": False}])) == 0.0
    assert review_priority({"mask_qc": json.dumps([good, good]), "quality": 0.1}) == 0.1
    assert review_priority({"mask_qc": json.dumps([good, poor])}) == mask_qc_score([good, poor])


def _records(root) -> dict[str, dict]:
    return {r["id"]: r for r in iter_records(root)}


def test_build_applies_the_table_and_a_recuration_keeps_it(tmp_path: Path) -> None:
    cfg = curated_config(tmp_path)
    run_all(cfg, cfg.out, stages=("build",))
    before = _records(cfg.out)
    shards_before = {p.name: p.read_bytes() for p in Path(cfg.out, "shards").glob("*.parquet")}
    assert len(before) >= 4
    chosen = select(cfg.work_dir, 3, set())
    assert len(chosen) == 3 and all(c.kind == "kept" for c in chosen)
    assert [c.priority for c in chosen] == sorted(c.priority for c in chosen)  # lowest first
    fixed, rejected, untouched = chosen[0], chosen[1], [i for i in before if i not in {chosen[0].set_id, chosen[1].set_id}]

    moved = np.asarray(fixed.keypoints, np.float32).reshape(12, 3)
    moved[4] = (33.25, 101.5, 1.0)  # left ankle moved by the reviewer
    left, right = _mask(20, 100, 30, 12), _mask(70, 104, 25, 10)
    table = {
        (fixed.content_hash, 0): Correction(fixed.content_hash, 0, KEEP, SIZE, SIZE, fixed.source_uri,
                                            [float(v) for v in moved.reshape(-1)], encode_mask(left),
                                            encode_mask(right), fixed.person_box, {"round": 1, "task_id": 7}),
        (rejected.content_hash, 0): Correction(rejected.content_hash, 0, REJECT, SIZE, SIZE, rejected.source_uri,
                                               review={"round": 1, "task_id": 8}),
        # a second person in a photo where curation found one: the reviewer painted and kept it
        (fixed.content_hash, 2): Correction(fixed.content_hash, 2, KEEP, SIZE, SIZE, fixed.source_uri, _kp(),
                                            encode_mask(_mask(5, 5)), None, [0, 0, 60, 60, 0.5], {"round": 1}),
        # a photo no longer among curation's: counted in the manifest, nothing built
        ("e" * 64, 0): _keep("e" * 64),
    }
    save_corrections(cfg.review.corrections, table)

    def check(same_masks: bool = True) -> None:
        after = _records(cfg.out)
        rec = after[fixed.set_id]
        validate_record(rec, "shoe_leg")
        np.testing.assert_array_equal(keypoints_array(rec), moved)  # exactly the reviewed points
        np.testing.assert_array_equal(decode_image(rec["shoe_mask"], "L") > 127, left | right)  # and pixels
        shoe = decode_image(rec["shoe_image"], "RGB")
        assert not shoe[~(left | right)].any()  # X_m follows the corrected mask
        assert json.loads(rec["provenance"])["review"] == {"decision": KEEP, "round": 1, "task_id": 7}
        assert rejected.set_id not in after
        drops = {f.item: f.reason for f in iter_failures(cfg.out) if f.kind == "dropped"}
        assert list(drops.values()) == [REJECTED_REASON] and rejected.source_uri in next(iter(drops))
        extra = after[fixed.content_hash[:24] + "-p2"]
        np.testing.assert_array_equal(decode_image(extra["shoe_mask"], "L") > 127, _mask(5, 5))
        for rid in untouched:  # every other record as curation made it
            assert after[rid]["keypoints"] == before[rid]["keypoints"]
            if same_masks:  # (a re-curation may repaint them: they are curation's, not a review's)
                assert after[rid]["shoe_mask"] == before[rid]["shoe_mask"]
        assert len(after) == len(before) - 1 + 1

    run_all(cfg, cfg.out, stages=("build",))
    check()
    # only the shards of parts with a correction were rewritten
    shards_after = {p.name: p.read_bytes() for p in Path(cfg.out, "shards").glob("*.parquet")}
    assert 0 < sum(shards_after.get(k) != v for k, v in shards_before.items()) < len(shards_before)
    manifest = json.loads(Path(cfg.out, "manifest.json").read_text())
    assert manifest["provenance"]["review"]["entries"] == 4
    assert manifest["provenance"]["review"]["photo_not_found"] == 1
    assert manifest["provenance"]["review"]["added"] == 1  # the reviewer's extra person: the ledger counts it apart
    assert manifest["ledger"]["build"]["persons"]["added_in_review"] == 1

    # a re-curation with other settings redoes segment and build: the fixes stay
    from shoemodel.curation import parts

    cfg.segment.box_padding = 0.55  # other masks, the same persons kept
    run_all(cfg, cfg.out, stages=("ingest", "segment", "build"))
    assert parts.run_counts["segment"] == len(parts.part_indices(Path(cfg.work_dir, "segment")))  # all redone
    check(same_masks=False)


def test_a_broken_table_stops_the_build_with_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shoemodel.cli import app

    cfg = curated_config(tmp_path, n=2)
    Path(cfg.review.corrections).write_text('{"content_hash": "ab", "person": 0, "decision": "keep"}\n')
    res = CliRunner().invoke(app, ["curate", "build", "--work-dir", cfg.work_dir, "--out", cfg.out, "--quiet",
                                   "--set", f"curation.review.corrections={cfg.review.corrections}"])
    assert res.exit_code != 0 and "corrections.jsonl:1" in res.output and "Traceback" not in res.output
    assert not Path(cfg.out, "manifest.json").exists()


def test_dropped_persons_of_a_reason_can_be_reviewed_and_a_kept_one_comes_back(tmp_path: Path) -> None:
    cfg = curated_config(tmp_path, n=4)
    cfg.segment.max_box_fill = 0.01  # every mask "fills its prompt box": curation drops every person
    run_all(cfg, cfg.out, stages=("segment", "build"))
    assert _records(cfg.out) == {}
    assert select(cfg.work_dir, 5, set(), dropped_reason="speck", n_dropped=5) == []  # another reason: none
    chosen = select(cfg.work_dir, 5, set(), dropped_reason="mask qc: mask fills", n_dropped=2)
    assert len(chosen) == 2 and all(c.kind == "dropped" and c.shoe_mask is None for c in chosen)
    assert all(c.reason.startswith("mask qc: mask fills its prompt box") for c in chosen)
    assert [c.set_id for c in chosen] == sorted(c.set_id for c in chosen)
    c = chosen[0]
    k = np.asarray(c.keypoints, np.float32).reshape(12, 3)
    assert (k[:, 2] > 0).sum() >= 6  # pose's points, for the reviewer to check
    again = select(cfg.work_dir, 5, {c.key}, dropped_reason="mask qc", n_dropped=5)
    assert again[0].key != c.key  # a person already sent is not sent again
    save_corrections(cfg.review.corrections, {c.key: Correction(
        c.content_hash, c.person, KEEP, SIZE, SIZE, c.source_uri, c.keypoints, encode_mask(_mask(30, 100)), None,
        c.person_box, {"round": 2})})
    run_all(cfg, cfg.out, stages=("build",))
    recs = _records(cfg.out)
    assert list(recs) == [c.set_id]
    np.testing.assert_array_equal(decode_image(recs[c.set_id]["shoe_mask"], "L") > 127, _mask(30, 100))
    np.testing.assert_array_equal(keypoints_array(recs[c.set_id]), k)


def test_review_commands_fail_with_one_line(tmp_path: Path, elsewhere: Path) -> None:
    import socket

    from typer.testing import CliRunner

    from shoemodel.cli import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runner = CliRunner()
    res = runner.invoke(app, ["curate", "review", "--n", "2", "--url", f"http://127.0.0.1:{port}", "--token", "t"])
    assert res.exit_code == 1 and "cannot reach Label Studio" in res.output and "Traceback" not in res.output
    bad = tmp_path / "c.jsonl"
    bad.write_text("[]\n")
    res = runner.invoke(app, ["curate", "review", "import", "--token", "t", "--url", f"http://127.0.0.1:{port}",
                              "--set", f"curation.review.corrections={bad}"])
    assert res.exit_code == 1 and f"{bad}:1: not a JSON object" in " ".join(res.output.split()), res.output
    res = runner.invoke(app, ["curate", "review", "import", "--url", f"http://127.0.0.1:{port}"],
                        env={"LABEL_STUDIO_API_KEY": "", "LABEL_STUDIO_USER_TOKEN": ""})
    assert res.exit_code == 1 and "no Label Studio API token" in res.output
