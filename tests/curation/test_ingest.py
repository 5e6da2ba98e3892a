"""Ingest: bad files are recorded with their reason, EXIF orientation is applied, duplicates dropped."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from shoemodel.curation import parts
from shoemodel.curation.config import IngestConfig
from shoemodel.curation.ingest import run_ingest
from shoemodel.curation.sources import SourceNotFound, iter_sources
from shoemodel.curation.storage import row_image_bytes


def _photo(seed: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, 12, 3), dtype=np.uint8)
    return Image.fromarray(base).resize(size, Image.BILINEAR)


def _save(im: Image.Image, path: Path, **kw) -> Path:
    im.save(path, **kw)
    return path


def _bad_folder(d: Path) -> dict[str, str]:
    """Write good and bad files; returns file name -> expected reason head ('' = kept)."""
    d.mkdir()
    exp = {}
    _save(_photo(0), d / "a_good.jpg", quality=95)
    exp["a_good.jpg"] = ""
    (d / "b_copy.jpg").write_bytes((d / "a_good.jpg").read_bytes())
    exp["b_copy.jpg"] = "duplicate"
    data = (d / "a_good.jpg").read_bytes()
    (d / "c_truncated.jpg").write_bytes(data[: len(data) // 2])
    exp["c_truncated.jpg"] = "truncated or corrupt"
    (d / "d_text.png").write_bytes(b"this is not an image at all" * 10)
    exp["d_text.png"] = "not an image"
    _save(_photo(1).convert("CMYK"), d / "e_cmyk.jpg")
    exp["e_cmyk.jpg"] = "colour mode"
    arr16 = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)
    _save(Image.fromarray(arr16), d / "f_16bit.png")
    exp["f_16bit.png"] = "bit depth"
    _save(_photo(2, (1, 1)), d / "g_tiny.png")
    exp["g_tiny.png"] = "too small"
    _save(Image.new("L", (9000, 8000)), d / "h_huge.png")  # 72 MP of one colour: a small file, a huge decode
    exp["h_huge.png"] = "too large"
    return exp


def _rows(stage_dir: Path) -> list[dict]:
    return [r for i in parts.part_indices(stage_dir) for r in parts.read_part(stage_dir, i)]


def test_bad_files_are_recorded_with_reason_and_skipped(tmp_path: Path) -> None:
    exp = _bad_folder(tmp_path / "raw")
    summary = run_ingest(tmp_path / "ingest", IngestConfig(sources=[str(tmp_path / "raw")], part_size=3), progress=False)
    rows = {Path(r["source_uri"]).name: r for r in _rows(tmp_path / "ingest")}
    assert set(rows) == set(exp)
    for name, reason in exp.items():
        if reason in ("", "duplicate"):
            assert rows[name]["status"] == "kept", name
            assert rows[name]["stored"] == "reference" and rows[name]["image"] is None  # the default mode
            assert row_image_bytes(rows[name]) == (tmp_path / "raw" / name).read_bytes()
        else:
            assert rows[name]["status"] == "dropped", name
            assert rows[name]["reason"].startswith(reason), (name, rows[name]["reason"])
            assert rows[name]["image"] is None
    dups = json.loads((tmp_path / "ingest" / "duplicates.json").read_text())
    assert [Path(d[2]).name for d in dups] == ["b_copy.jpg"]
    assert summary.kept == 1 and summary.inputs == len(exp)
    assert summary.dropped["duplicate"] == 1 and summary.dropped["too large"] == 1
    assert rows["a_good.jpg"]["content_hash"] == rows["b_copy.jpg"]["content_hash"]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    d = tmp_path / "raw"
    d.mkdir()
    im = _photo(3, (80, 40))  # landscape pixels, EXIF says rotate 90 -> upright is portrait
    exif = Image.Exif()
    exif[0x0112] = 6
    _save(im, d / "rot.jpg", exif=exif, quality=95)
    run_ingest(tmp_path / "ingest", IngestConfig(sources=[str(d)]), progress=False)
    (row,) = _rows(tmp_path / "ingest")
    assert (row["width"], row["height"]) == (40, 80)
    with Image.open(io.BytesIO(row_image_bytes(row))) as out:
        assert out.size == (40, 80)
        assert out.getexif().get(0x0112, 1) == 1


def test_near_duplicates_by_perceptual_hash(tmp_path: Path) -> None:
    d = tmp_path / "raw"
    d.mkdir()
    _save(_photo(4, (128, 128)), d / "a.png")
    _save(_photo(4, (128, 128)), d / "b.jpg", quality=70)  # same picture, other bytes
    _save(_photo(5, (128, 128)), d / "c.png")  # a different picture
    exact = run_ingest(tmp_path / "i1", IngestConfig(sources=[str(d)], near_duplicates=False), progress=False)
    near = run_ingest(tmp_path / "i2", IngestConfig(sources=[str(d)]), progress=False)  # on by default
    assert exact.kept == 3
    assert near.kept == 2 and near.dropped == {"duplicate": 1}
    dups = json.loads((tmp_path / "i2" / "duplicates.json").read_text())
    assert [(Path(x[2]).name, Path(x[3][2]).name) for x in dups] == [("b.jpg", "a.png")]


def test_sources_folder_list_manifest_and_missing_optional(tmp_path: Path) -> None:
    d = tmp_path / "raw"
    d.mkdir()
    (d / "sub").mkdir()
    for i, p in enumerate([d / "x.jpg", d / "sub" / "y.png"]):
        _save(_photo(i), p)
    (d / "notes.md").write_text("listed, and counted as failed")
    lst = tmp_path / "list.txt"
    lst.write_text(f"# comment\n{d / 'x.jpg'}\n\n")
    man = tmp_path / "m.parquet"
    pq.write_table(pa.table({"uri": [str(d / "sub" / "y.png"), f"file://{d / 'x.jpg'}"]}), man)
    got = list(iter_sources([str(d), str(lst), str(man)], optional=[str(tmp_path / "absent")]))
    assert got == [str(d / "notes.md"), str(d / "sub" / "y.png"), str(d / "x.jpg"), str(d / "x.jpg"), str(d / "sub" / "y.png"),
                   f"file://{d / 'x.jpg'}"]
    (tmp_path / "gone.jpg").write_bytes(b"")
    lst.write_text(f"{lst.read_text()}{tmp_path / 'gone.jpg'}\n")
    (tmp_path / "gone.jpg").unlink()  # listed in the .txt, absent on disk: a failed row
    summary = run_ingest(tmp_path / "ingest", IngestConfig(sources=[str(d), str(lst), str(man)], part_size=2), progress=False)
    assert summary.kept == 2 and summary.dropped == {"duplicate": 3} and summary.failed == {"unknown suffix": 1, "unreadable": 1}
    with pytest.raises(SourceNotFound, match="gone"):  # a mistyped source is an error, not an empty run
        run_ingest(tmp_path / "ingest2", IngestConfig(sources=[str(tmp_path / "gone")]), progress=False)


def test_rerun_resumes_and_changed_settings_restart(tmp_path: Path) -> None:
    _bad_folder(tmp_path / "raw")
    cfg = IngestConfig(sources=[str(tmp_path / "raw")], part_size=2)
    run_ingest(tmp_path / "ingest", cfg, progress=False)
    first = parts.part_path(tmp_path / "ingest", 0)
    mtime = first.stat().st_mtime_ns
    run_ingest(tmp_path / "ingest", cfg, progress=False)
    assert first.stat().st_mtime_ns == mtime and parts.run_counts["ingest"] == 0  # finished parts are not redone
    cfg.min_side = 1
    s = run_ingest(tmp_path / "ingest", cfg, progress=False)
    assert first.stat().st_mtime_ns != mtime and "too small" not in s.dropped


def test_rerun_with_files_no_longer_listed_redoes_only_their_parts(tmp_path: Path) -> None:
    """A file still on disk but no longer listed (a list source edited) leaves its part; a URI listed twice keeps
    both rows; untouched parts are reused."""
    raw = tmp_path / "raw"
    raw.mkdir()
    files = [str(_save(_photo(i), raw / f"{i}.jpg", quality=90)) for i in range(5)]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(files + [files[0]]) + "\n")  # the first file twice: the second is a duplicate row
    cfg = IngestConfig(sources=[str(listing)], part_size=2, near_duplicates=False)
    run_ingest(tmp_path / "ingest", cfg, progress=False)
    assert [len(parts.read_part(tmp_path / "ingest", i)) for i in parts.part_indices(tmp_path / "ingest")] == [2, 2, 2]
    kept_part = parts.part_path(tmp_path / "ingest", 0)
    mtime = kept_part.stat().st_mtime_ns

    listing.write_text("\n".join(files[:3] + files[4:] + [files[0]]) + "\n")  # 3.jpg is no longer listed
    s = run_ingest(tmp_path / "ingest", cfg, progress=False)
    rows = _rows(tmp_path / "ingest")
    assert kept_part.stat().st_mtime_ns == mtime and parts.run_counts["ingest"] == 1  # only part 1 is redone
    assert [r["source_uri"] for r in rows] == files[:3] + [files[4], files[0]]
    assert s.inputs == 5 and s.dropped == {"duplicate": 1}


def test_parts_hold_no_mtimes_and_a_fresh_clone_hashes_each_photo_once(tmp_path: Path, monkeypatch) -> None:
    """The mtimes live in the stage's stamp cache beside the output: parts are the same bytes whatever the files'
    times; a rerun without the cache (a fresh clone, new mtimes) confirms the photos by hash, keeps every part and
    notes the new mtimes, so the run after it hashes nothing."""
    import os

    from shoemodel.store.content_cache import cache_dir

    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(3):
        _save(_photo(i), raw / f"p{i}.jpg")
    cfg = IngestConfig(sources=[str(raw)], part_size=2)
    stage = tmp_path / "ingest"
    run_ingest(stage, cfg, progress=False)
    rows = pq.read_table(parts.part_path(stage, 0)).to_pylist()
    assert all(r["mtime_ns"] is None for r in rows) and (cache_dir(stage) / "stamps").is_dir()
    before = parts.part_path(stage, 0).read_bytes()

    import shutil

    shutil.rmtree(cache_dir(stage))
    for p in raw.iterdir():
        os.utime(p, (1_000_000_000, 1_000_000_000))
    hashed = []  # photos read (to hash them) by the rerun check
    real = Path.read_bytes

    def counted(self: Path) -> bytes:
        if self.parent == raw:
            hashed.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counted)
    run_ingest(stage, cfg, progress=False)
    assert parts.run_counts["ingest"] == 0 and len(hashed) == 3  # kept, each photo confirmed once by its hash
    assert parts.part_path(stage, 0).read_bytes() == before
    hashed.clear()
    run_ingest(stage, cfg, progress=False)
    assert parts.run_counts["ingest"] == 0 and hashed == []  # the new mtimes were noted
