"""Near-duplicate pass: the multi-index (3 bands, radius d // 3, on disk) against the earlier 12-bit banding
(in memory), as N grows.

Both find the same duplicates (tests/reliability/test_dup_index.py checks the index against brute force);
what differs is the cost per row: 12-bit bands give buckets of N / 4096 entries (quadratic overall).
Run:  python benchmarks/curation/dup_index.py   (writes dup_index.json / dup_index.md beside this file)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shoemodel.curation.dup_index import DuplicateIndex  # noqa: E402

HERE = Path(__file__).resolve().parent
D = 4


def hashes(n: int) -> list[int]:
    rng = np.random.default_rng(0)
    out = [int(x) for x in rng.integers(0, 2**63, n, dtype=np.int64)]
    for i in range(5, n, 5):  # every fifth row a near copy of an earlier one
        h = out[int(rng.integers(0, i))]
        for b in rng.choice(64, 3, replace=False):
            h ^= 1 << int(b)
        out[i] = h
    return out


def banded_12bit(hs: list[int]) -> tuple[float, int]:
    """The earlier pass: d + 1 = 5 bands of 12 bits, every bucket mate compared."""
    t = time.perf_counter()
    buckets: dict[tuple[int, int], list[int]] = {}
    dups = 0
    for h in hs:
        bands = [(i, (h >> (i * 12)) & 0xFFF) for i in range(5)]
        if any((h ^ o).bit_count() <= D for b in bands for o in buckets.get(b, ())):
            dups += 1
            continue
        for b in bands:
            buckets.setdefault(b, []).append(h)
    return time.perf_counter() - t, dups


def multi_index(hs: list[int]) -> tuple[float, int]:
    """The project's index as ingest runs it: on disk (SQLite), one transaction per part of 256 rows."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()
        idx = DuplicateIndex.create(folder, D, True)
        for start in range(0, len(hs), 256):
            idx.add_part(start // 256, "fp", [(i, f"/photos/{i}.jpg", str(i), f"{hs[i]:016x}")
                                              for i in range(start, min(len(hs), start + 256))])
        idx.save(folder)
        n = len(idx.duplicates)
        idx.close()
        return time.perf_counter() - t, n


def main() -> None:
    import gc

    gc.disable()  # both passes allocate millions of small objects; the cyclic collector would dominate either
    rows = []
    for n in (10_000, 40_000, 160_000, 640_000):
        hs = hashes(n)
        tb, db = banded_12bit(hs)
        tm, dm = multi_index(hs)
        assert db == dm, (n, db, dm)
        rows.append({"n": n, "banded_12bit_s": round(tb, 2), "multi_index_s": round(tm, 2), "duplicates": dm,
                     "ratio": round(tb / tm, 2)})
        print(rows[-1], flush=True)
    (HERE / "dup_index.json").write_text(json.dumps(rows, indent=2) + "\n")
    md = ["| N hashes | 12-bit bands, in memory (s) | multi-index, SQLite on disk (s) | ratio | duplicates |", "|---:|---:|---:|---:|---:|"]
    md += [f"| {r['n']} | {r['banded_12bit_s']} | {r['multi_index_s']} | {r['ratio']}x | {r['duplicates']} |" for r in rows]
    (HERE / "dup_index.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
