"""Growth and edits cost what changed: new photos become new parts, a changed photo redoes its part, a no-op does nothing.

Measured by the images each stage's model is given (`model_calls`) and the parts / shards each stage made.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shoemodel.curation import parts
from shoemodel.curation.pipeline import run_all
from shoemodel.store import iter_records, read_manifest, writer


def _made() -> dict[str, int]:
    return dict(parts.run_counts)


def _set(root: Path) -> dict[str, dict]:
    return {r["source_uri"].rsplit("/", 1)[-1]: r for r in iter_records(root)}


@pytest.fixture
def photos(fixtures_dir: Path) -> list[Path]:
    files = sorted((fixtures_dir / "images" / "mmpose" / "coco").glob("*.jpg")) + \
        sorted((fixtures_dir / "images" / "ultralytics_samples").glob("*.jpg"))
    if len(files) < 6:
        pytest.skip("fixture photos missing")
    return files


def _one_photo_parts(tmp_path: Path, photos: list[Path], photo_config, records_per_shard: int):
    """A raw folder holding `photos` and a curation config with one photo per part."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in photos:
        shutil.copy(p, raw / p.name)
    cfg = photo_config(tmp_path / "work", [str(raw)], None)
    cfg.ingest.part_size, cfg.build.records_per_shard = 1, records_per_shard
    return raw, cfg


@pytest.mark.fixtures
def test_added_photos_redo_only_the_new_ones(tmp_path: Path, photos: list[Path], photo_config, model_calls,
                                             mediapipe_installed) -> None:
    raw, cfg = _one_photo_parts(tmp_path, photos[:4], photo_config, records_per_shard=2)
    first = run_all(cfg, tmp_path / "set")
    # full-frame detection on 4 sports photos: the shoe prior's masks of 2-3 of them fail QC (ski boots above the ankle,
    # a speck); at least one record makes the set comparisons below mean something
    assert model_calls["detect"] == 4 and first["build"]["kept"] >= 1
    built = _set(tmp_path / "set")

    model_calls.clear()  # no-op rerun, and a speed-only setting changed: nothing is redone
    cfg.detect.batch_size = 16
    again = run_all(cfg, tmp_path / "set")
    assert again == first and sum(model_calls.values()) == 0
    assert _made() == {"ingest": 0, "detect": 0, "pose": 0, "segment": 0}
    assert writer.write_counts[str(tmp_path / "set")] == 0

    for p in photos[4:6]:  # two new photos in the same folder
        shutil.copy(p, raw / p.name)
    grown = run_all(cfg, tmp_path / "set")
    assert model_calls["detect"] == 2, model_calls  # only the new photos reach the models
    assert model_calls["pose"] <= 2 and model_calls["segment"] <= 2
    assert _made()["ingest"] == 2 and _made()["detect"] == 2
    assert writer.write_counts[str(tmp_path / "set")] == 1  # 6 parts, 2 per shard: only the third shard is new
    after = _set(tmp_path / "set")
    assert {k: v["shoe_mask"] for k, v in after.items() if k in built} == {k: v["shoe_mask"] for k, v in built.items()}
    assert grown["ingest"]["inputs"] == 6

    import dataclasses  # `curate build` alone, with params naming other sources: the set records the parts' sources
    other = dataclasses.replace(cfg, ingest=dataclasses.replace(cfg.ingest, sources=["data/somewhere/else"]))
    run_all(other, tmp_path / "set", stages=("build",))
    assert writer.write_counts[str(tmp_path / "set")] == 0

    # the same set as a fresh run over all six photos
    fresh_cfg = photo_config(tmp_path / "fresh", [str(raw)], None)
    fresh_cfg.ingest.part_size, fresh_cfg.build.records_per_shard = 1, 2
    run_all(fresh_cfg, tmp_path / "fresh_set")
    fresh = _set(tmp_path / "fresh_set")
    assert {k: v["id"] for k, v in fresh.items()} == {k: v["id"] for k, v in after.items()}
    assert read_manifest(tmp_path / "set").provenance["sources"] == [str(raw)]


@pytest.mark.fixtures
def test_a_replaced_photo_redoes_exactly_its_part(tmp_path: Path, photos: list[Path], photo_config, model_calls,
                                                  mediapipe_installed) -> None:
    raw, cfg = _one_photo_parts(tmp_path, photos[:3], photo_config, records_per_shard=1)
    run_all(cfg, tmp_path / "set")
    before = _set(tmp_path / "set")
    model_calls.clear()
    target = raw / photos[1].name
    target.write_bytes(photos[5].read_bytes())  # another photo under the same name
    run_all(cfg, tmp_path / "set")
    assert model_calls["detect"] == 1 and _made()["ingest"] == 1
    after = _set(tmp_path / "set")
    if photos[1].name in before:
        assert after.get(photos[1].name, {}).get("content_hash") != before[photos[1].name]["content_hash"]
    assert {k: v["id"] for k, v in after.items() if k != photos[1].name} == \
        {k: v["id"] for k, v in before.items() if k != photos[1].name}

    model_calls.clear()  # touched but not changed: the hash confirms, nothing is redone
    target.touch()
    run_all(cfg, tmp_path / "set")
    assert sum(model_calls.values()) == 0


@pytest.mark.fixtures
def test_a_damaged_part_or_shard_is_redone_not_trusted(tmp_path: Path, photos: list[Path], photo_config,
                                                       mediapipe_installed) -> None:
    raw, cfg = _one_photo_parts(tmp_path, photos[:3], photo_config, records_per_shard=1)
    run_all(cfg, tmp_path / "set")
    ref = read_manifest(tmp_path / "set")
    shard = tmp_path / "set" / ref.shards[0].file
    shard.write_bytes(shard.read_bytes()[:100])  # truncated
    pose_part = parts.part_path(tmp_path / "work" / "pose", 0)
    pose_part.write_bytes(pose_part.read_bytes()[:50])
    run_all(cfg, tmp_path / "set")
    assert parts.run_counts["pose"] == 1
    m = read_manifest(tmp_path / "set")
    assert [s.sha256 for s in m.shards] == [s.sha256 for s in ref.shards]
