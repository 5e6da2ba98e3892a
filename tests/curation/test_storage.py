"""Reference mode: ingest parts keep URI + hash + orientation, later stages read the file and verify it.

The same photos curated in copy and reference mode give the same set; an EXIF-rotated photo gives the same upright
bytes both ways; a photo changed or deleted after ingest fails in the later stage with the reason, and a rerun
re-ingests it; fsspec URIs (memory://) work; copy_sources and web URIs are copied.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shoemodel.curation import parts
from shoemodel.curation.config import IngestConfig
from shoemodel.curation.ingest import run_ingest
from shoemodel.curation.pipeline import run_all
from shoemodel.curation.storage import COPY, REFERENCE, row_image_bytes, storage_for
from shoemodel.store import iter_failures, iter_records


def _rows(stage_dir: Path) -> list[dict]:
    return [r for i in parts.part_indices(stage_dir) for r in parts.read_part(stage_dir, i)]


def _records(root: Path) -> list[dict]:
    return sorted(iter_records(root), key=lambda r: r["id"])


def _part_bytes(stage_dir: Path) -> int:
    return sum(p.stat().st_size for p in (stage_dir / parts.PART_DIR).glob("*.parquet"))


def _rotated(src: Path, dst: Path) -> Path:
    """The photo's pixels turned a quarter left, tagged EXIF orientation 6 (turn right to view): upright = the original."""
    exif = Image.Exif()
    exif[0x0112] = 6
    with Image.open(src) as im:
        im.convert("RGB").transpose(Image.Transpose.ROTATE_90).save(dst, exif=exif, quality=92)
    return dst


@pytest.fixture
def photos(people_photos: list[Path]) -> list[Path]:
    return people_photos


def _raw(tmp_path: Path, photos: list[Path]) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in photos[:3]:
        shutil.copy(p, raw / p.name)
    _rotated(photos[4], raw / "rotated.jpg")  # bus.jpg: people with their feet in view
    return raw


@pytest.mark.fixtures
def test_copy_and_reference_give_the_same_set_and_reference_parts_hold_no_bytes(
        tmp_path: Path, photos: list[Path], photo_config, mediapipe_installed) -> None:
    raw = _raw(tmp_path, photos)
    sets, ingest = {}, {}
    for mode in (COPY, REFERENCE):
        cfg = photo_config(tmp_path / mode / "work", [str(raw)], None)
        cfg.ingest.bytes = mode
        summary = run_all(cfg, tmp_path / mode / "set")
        assert summary["build"]["kept"] >= 2, summary
        sets[mode], ingest[mode] = _records(tmp_path / mode / "set"), tmp_path / mode / "work" / "ingest"
    assert sets[COPY] == sets[REFERENCE]  # every column: ids, image bytes, masks, keypoints, provenance
    assert "rotated.jpg" in {Path(r["source_uri"]).name for r in sets[REFERENCE]}
    ref_rows = [r for r in _rows(ingest[REFERENCE]) if r["status"] == parts.KEPT]
    assert ref_rows and all(r["image"] is None and r["stored"] == REFERENCE and r["size"] for r in ref_rows)
    assert all(r["image"] and r["stored"] == COPY for r in _rows(ingest[COPY]) if r["status"] == parts.KEPT)
    photo_bytes = sum(p.stat().st_size for p in raw.iterdir())
    assert _part_bytes(ingest[COPY]) > 0.8 * photo_bytes
    assert _part_bytes(ingest[REFERENCE]) < _part_bytes(ingest[COPY]) / 10


def test_exif_rotated_photo_gives_the_same_upright_bytes_both_ways(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (6, 10, 3), dtype=np.uint8)).resize((100, 60), Image.BILINEAR)
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(raw / "rot.jpg", exif=exif, quality=90)
    got = {}
    for mode in (COPY, REFERENCE):
        run_ingest(tmp_path / mode, IngestConfig(sources=[str(raw)], bytes=mode), progress=False)
        (row,) = _rows(tmp_path / mode)
        assert row["orientation"] == 6 and (row["width"], row["height"]) == (60, 100) and row["stored"] == mode
        got[mode] = row_image_bytes(row)
    assert got[COPY] == got[REFERENCE] != (raw / "rot.jpg").read_bytes()
    with Image.open(io.BytesIO(got[REFERENCE])) as up:
        assert up.size == (60, 100) and up.getexif().get(0x0112, 1) == 1


@pytest.mark.fixtures
def test_a_photo_changed_or_deleted_after_ingest_fails_later_and_a_rerun_reingests_it(
        tmp_path: Path, photos: list[Path], photo_config, mediapipe_installed) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in photos[:3]:
        shutil.copy(p, raw / p.name)
    cfg = photo_config(tmp_path / "work", [str(raw)], None)
    cfg.ingest.part_size = 1
    run_all(cfg, tmp_path / "set", stages=("ingest",))
    changed, gone = raw / photos[1].name, raw / photos[2].name
    changed.write_bytes(photos[4].read_bytes())  # another photo under the same name
    gone.unlink()
    detect = run_all(cfg, tmp_path / "set", stages=("detect",))["detect"]
    assert detect["failed"] == {"source changed since ingest": 2}, detect
    reasons = {Path(r["source_uri"]).name: r["reason"] for r in _rows(tmp_path / "work" / "detect") if r["status"] == parts.FAILED}
    assert reasons[changed.name].startswith(f"source changed since ingest: {changed} (sha256 ")
    assert reasons[gone.name].startswith(f"source changed since ingest: {gone} (gone: ")

    again = run_all(cfg, tmp_path / "set")  # `curate run`: ingest sees the edit and the deletion
    assert parts.run_counts["ingest"] == 1 and again["ingest"]["inputs"] == 2
    assert again["detect"]["failed"] == {} and not list(iter_failures(tmp_path / "set"))
    fresh_cfg = photo_config(tmp_path / "fresh", [str(raw)], None)
    fresh_cfg.ingest.part_size = 1
    run_all(fresh_cfg, tmp_path / "fresh_set")
    assert _records(tmp_path / "set") == _records(tmp_path / "fresh_set")
    new_hash = hashlib.sha256(changed.read_bytes()).hexdigest()
    for stage in ("ingest", "detect"):  # the edited photo went through again as its new self
        (row,) = [r for r in _rows(tmp_path / "work" / stage) if r["source_uri"] == str(changed)]
        assert row["content_hash"] == new_hash and row["status"] != parts.FAILED


@pytest.mark.fixtures
def test_memory_fsspec_uris_in_reference_mode_inline(tmp_path: Path, photos: list[Path], photo_config,
                                                     mediapipe_installed) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/curation-{uuid.uuid4().hex[:8]}"
    try:
        uris = []
        for p in photos[:3] + photos[4:5]:
            fs.pipe(f"{root}/{p.name}", p.read_bytes())
            uris.append(f"memory://{root}/{p.name}")
        listing = tmp_path / "photos.txt"
        listing.write_text("\n".join(uris) + "\n")
        cfg = photo_config(tmp_path / "work", [str(listing)], None)
        summary = run_all(cfg, tmp_path / "set")  # the inline executor: the memory filesystem is this process's
        recs = _records(tmp_path / "set")
        assert summary["ingest"]["kept"] == 4 and len(recs) >= 2 and not list(iter_failures(tmp_path / "set"))
        by_name = {p.name: p for p in photos}
        for r in recs:
            assert r["source_uri"].startswith("memory://") and r["image"] == by_name[r["source_uri"].rsplit("/", 1)[1]].read_bytes()
        rows = [r for r in _rows(tmp_path / "work" / "ingest") if r["status"] == parts.KEPT]
        assert all(r["stored"] == REFERENCE and r["image"] is None for r in rows)

        fs.pipe(f"{root}/{photos[0].name}", photos[5].read_bytes())  # a remote file replaced: the rerun re-reads it
        run_all(cfg, tmp_path / "set", stages=("ingest",))
        assert parts.run_counts["ingest"] == 1
        row = next(r for r in _rows(tmp_path / "work" / "ingest") if r["source_uri"].endswith(photos[0].name))
        assert row_image_bytes(row) == photos[5].read_bytes()
    finally:
        fs.rm(root, recursive=True)


def test_copy_sources_and_web_uris_are_copied_and_a_mode_switch_redoes_only_ingest(tmp_path: Path) -> None:
    stable, volatile = tmp_path / "stable", tmp_path / "volatile"
    for i, d in enumerate((stable, volatile)):
        d.mkdir()
        rng = np.random.default_rng(i)
        Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)).save(d / f"p{i}.png")
    cfg = IngestConfig(sources=[str(stable), str(volatile)], copy_sources=[str(volatile)], part_size=1)
    run_ingest(tmp_path / "ingest", cfg, progress=False)
    rows = {Path(r["source_uri"]).parent.name: r for r in _rows(tmp_path / "ingest")}
    assert rows["volatile"]["stored"] == COPY and rows["volatile"]["image"] == (volatile / "p1.png").read_bytes()
    assert rows["stable"]["stored"] == REFERENCE and rows["stable"]["image"] is None
    fps = [parts.part_fingerprint(tmp_path / "ingest", i) for i in (0, 1)]

    cfg.bytes = COPY  # the stable part is rewritten with its bytes; its fingerprint (what later stages chain) stays
    run_ingest(tmp_path / "ingest", cfg, progress=False)
    assert parts.run_counts["ingest"] == 1
    assert all(r["stored"] == COPY and r["image"] for r in _rows(tmp_path / "ingest"))
    assert [parts.part_fingerprint(tmp_path / "ingest", i) for i in (0, 1)] == fps

    assert storage_for("https://example.org/a.jpg", REFERENCE) == COPY == storage_for("http://x/a.jpg", REFERENCE)
    assert storage_for("s3://bucket/a.jpg", REFERENCE) == REFERENCE
    assert storage_for("s3://bucket/v/a.jpg", REFERENCE, ["s3://bucket/v"]) == COPY
    with pytest.raises(ValueError, match="curation.ingest.bytes"):
        run_ingest(tmp_path / "bad", IngestConfig(sources=[str(stable)], bytes="link"), progress=False)
