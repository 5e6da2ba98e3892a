"""The near-duplicate index finds exactly the rows a brute-force scan finds, and grows without a rebuild."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shoemodel.curation.dup_index import DuplicateIndex


def _hashes(n: int, seed: int) -> list[str]:
    """n random 64-bit hashes, every fifth a copy of an earlier one with 0-6 bits flipped."""
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for i in range(n):
        if i >= 5 and i % 5 == 0:
            h = out[int(rng.integers(0, i))]
            for b in rng.choice(64, int(rng.integers(0, 7)), replace=False):
                h ^= 1 << int(b)
        else:
            h = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        out.append(h)
    return [f"{h:016x}" for h in out]


def _brute(hashes: list[str], d: int) -> set[int]:
    kept: list[int] = []
    dups = set()
    for i, s in enumerate(hashes):
        h = int(s, 16)
        if any((h ^ k).bit_count() <= d for k in kept):
            dups.add(i)
        else:
            kept.append(h)
    return dups


@pytest.mark.parametrize("d", [0, 2, 4, 6])
def test_same_duplicates_as_brute_force(d: int) -> None:
    hashes = _hashes(1000, d)
    idx = DuplicateIndex(d)
    for i, h in enumerate(hashes):
        idx.add([0, i, f"u{i}"], f"sha{i}", h)
    assert {x[1] for x in idx.duplicates} == _brute(hashes, d)


def test_saved_index_grows_with_new_rows(tmp_path) -> None:
    hashes = _hashes(800, 1)
    a = DuplicateIndex.create(tmp_path, 4, True)
    a.add_part(0, "fp", [(i, f"u{i}", f"sha{i}", h) for i, h in enumerate(hashes[:600])])
    a.save(tmp_path)
    a.close()
    assert DuplicateIndex.open(tmp_path, 3, True) is None  # other settings: rebuilt
    b = DuplicateIndex.open(tmp_path, 4, True)
    assert b is not None and b.covered == {0: "fp"}
    b.add_part(1, "fp1", [(i, f"u{i}", f"sha{i}", h) for i, h in enumerate(hashes[600:], start=600)])
    assert {x[1] for x in b.duplicates} == _brute(hashes, 4)
    b.close()


def test_a_crash_inside_a_part_leaves_whole_parts_only(tmp_path) -> None:
    """A part's rows and its covered entry commit together: an error midway adds nothing of that part."""
    hashes = _hashes(40, 2)
    idx = DuplicateIndex.create(tmp_path, 4, True)
    idx.add_part(0, "fp0", [(i, f"u{i}", f"sha{i}", h) for i, h in enumerate(hashes[:20])])
    with pytest.raises(ValueError):
        idx.add_part(1, "fp1", [(i, f"u{i}", f"sha{i}", h) for i, h in enumerate(hashes[20:30], start=20)]
                     + [(99, "bad", "sha99", "not hex")])
    idx.close()
    again = DuplicateIndex.open(tmp_path, 4, True)
    assert again.covered == {0: "fp0"}
    assert again.db.execute("SELECT COUNT(*) FROM exact").fetchone()[0] == 20
    again.close()


def test_noop_rerun_reads_only_the_small_summary_and_new_parts_use_the_index(tmp_path) -> None:
    """Ingest reruns over the same parts take the saved decisions (dup_index.json) without loading the index:
    even an unreadable dup_index.pkl is not touched; once a part is added the index is needed again, and an
    unreadable one is rebuilt from the parts, with the same decisions as a fresh run."""
    from PIL import Image

    from shoemodel.curation.config import IngestConfig
    from shoemodel.curation.dup_index import INDEX_FILE, SUMMARY_FILE
    from shoemodel.curation.ingest import DUPLICATES, run_ingest

    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (8, 12, 3), dtype=np.uint8)).resize((96, 64)).save(raw / f"{i}.png")
    (raw / "6.png").write_bytes((raw / "1.png").read_bytes())  # an exact copy
    cfg = IngestConfig(sources=[str(raw)], part_size=2)
    work = tmp_path / "ingest"
    run_ingest(work, cfg, progress=False)
    first = (work / DUPLICATES).read_text()
    assert (work / SUMMARY_FILE).exists() and "6.png" in first
    (work / INDEX_FILE).write_bytes(b"not a pickle")
    run_ingest(work, cfg, progress=False)
    assert (work / INDEX_FILE).read_bytes() == b"not a pickle" and (work / DUPLICATES).read_text() == first

    (raw / "7.png").write_bytes((raw / "2.png").read_bytes())  # a new part, with a copy of an old photo
    run_ingest(work, cfg, progress=False)
    assert (work / INDEX_FILE).read_bytes() != b"not a pickle"
    fresh = tmp_path / "fresh"
    run_ingest(fresh, cfg, progress=False)

    def pairs(folder):  # (duplicate, copy kept) by URI: part positions differ (appended files get a new part)
        return sorted((d[2], d[3][2]) for d in json.loads((folder / DUPLICATES).read_text()))

    assert pairs(work) == pairs(fresh) == sorted([(str(raw / "6.png"), str(raw / "1.png")),
                                                  (str(raw / "7.png"), str(raw / "2.png"))])
