"""Ingest storage: part bytes on disk, ingest s/image and peak memory in copy vs reference mode, and the
driver-side work of ingest (listing, rerun plan, duplicate index) at a million files.

1. Photos: N synthetic JPEGs of realistic size (1024x768 smooth content plus sensor-like noise, ~100-300 KB)
   ingested in copy and in reference mode, each in its own process (peak RSS is that process's); then the
   cost later stages pay to get each kept row's bytes (`storage.row_image_bytes`: the part's bytes, or the
   file read and SHA-256-checked).
2. List-only rows at up to 1M: that many empty files in 1000 folders, with ingest parts made for them directly
   (kept rows with random content hashes and pHashes, every fifth a near copy), then `run_ingest` as a no-op
   rerun: it walks the folders, plans (footer + stat per file), builds the duplicate index on disk (first time)
   or, the parts being the same, reads only its saved decisions (second), and sums the footers. No photo is decoded: this is the part of ingest that grows with N.
3. The curation ledger at list-only sizes up to 1M rows: the parts written as a run writes them (each with its
   ledger part: the ledger's share of that time), then the end of a run (`ledger.finish_run`: the totals summed
   from the ledger parts' footers, checked, written) in its own process (its time and peak RSS: flat with N).
CPU only; every figure is from this machine (2 cores shared with other jobs: noisy).
Run:  python benchmarks/curation/storage.py --photos 250,1000 --rows 125000,250000,500000,1000000 \
          --ledger-rows 125000,250000,500000,1000000
      (writes storage.json / storage.md beside this file)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shoemodel.curation.dup_index import INDEX_FILE  # noqa: E402

HERE = Path(__file__).resolve().parent
FILES_PER_DIR = 1000
LIST_PART_SIZE = 256


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- photos

def _photo(i: int, folder: Path) -> int:
    from PIL import Image

    rng = np.random.default_rng(i)
    small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((1024, 768), Image.BICUBIC), np.int16)
    noisy = np.clip(base + rng.integers(-9, 10, base.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    p = folder / f"{i // FILES_PER_DIR:04d}" / f"{i:07d}.jpg"
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noisy).save(p, quality=int(rng.integers(82, 93)))
    return p.stat().st_size


def make_photos(folder: Path, n: int) -> list[int]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(_photo, range(n), [folder] * n, chunksize=16))


def child_ingest(src: str, work: str, mode: str) -> dict:
    from shoemodel.curation.config import IngestConfig
    from shoemodel.curation.ingest import run_ingest

    cfg = IngestConfig(sources=[src], bytes=mode)  # defaults: part_size 64, near duplicates on
    t = time.perf_counter()
    s = run_ingest(Path(work) / "ingest", cfg, progress=False)
    return {"seconds": time.perf_counter() - t, "kept": s.kept, "peak_rss_mb": _peak_mb()}


def child_read(work: str) -> dict:
    """What every later stage does before decoding: the kept rows of each part, then each row's image bytes."""
    from shoemodel.curation import parts
    from shoemodel.curation.stage_io import kept_rows
    from shoemodel.curation.storage import row_image_bytes

    d = Path(work) / "ingest"
    t = time.perf_counter()
    n = nbytes = 0
    for i in parts.part_indices(d):
        for r in kept_rows(work, i, ("ingest",)):
            nbytes += len(row_image_bytes(r))
            n += 1
    return {"seconds": time.perf_counter() - t, "rows": n, "bytes": nbytes, "peak_rss_mb": _peak_mb()}


# ---------------------------------------------------------------- list-only rows

def make_listing(folder: Path, n: int) -> None:
    """n empty files, FILES_PER_DIR per folder (made once, reused for the smaller sizes)."""
    for d in range(-(-n // FILES_PER_DIR)):
        sub = folder / f"{d:04d}"
        if (sub / ".done").exists():
            continue
        sub.mkdir(parents=True, exist_ok=True)
        for i in range(d * FILES_PER_DIR, min(n, (d + 1) * FILES_PER_DIR)):
            open(sub / f"{i:07d}.jpg", "wb").close()
        (sub / ".done").touch()


def _sources(folder: Path, n: int) -> list[str]:
    return [str(folder / f"{d:04d}") for d in range(-(-n // FILES_PER_DIR))]


def make_list_parts(folder: Path, work: Path, n: int) -> None:
    """Ingest parts for the first n listed files, as ingest would have written them (kept, list-only rows)."""
    from shoemodel.curation import parts
    from shoemodel.curation.config import IngestConfig
    from shoemodel.curation.ingest import INGEST_SCHEMA, _part_fingerprint, ingest_settings
    from shoemodel.curation.sources import iter_sources

    cfg = IngestConfig(sources=_sources(folder, n), part_size=LIST_PART_SIZE)
    settings_fp = ingest_settings(cfg)
    stage = work / "ingest"
    parts.prepare_stage_dir(stage, settings_fp)
    rng = np.random.default_rng(0)
    phashes: list[int] = []
    chunk: list[dict] = []
    index = 0
    for pos, uri in enumerate(iter_sources(cfg.sources)):
        if pos % 5 == 4:  # a near copy of an earlier photo (3 bits off)
            h = phashes[int(rng.integers(0, pos))]
            for b in rng.choice(64, 3, replace=False):
                h ^= 1 << int(b)
        else:
            h = int(rng.integers(0, 2**63, dtype=np.int64))
        phashes.append(h)
        st = os.stat(uri)
        chunk.append(parts.row(uri, f"{rng.integers(0, 2**63, dtype=np.int64):016x}" * 4, parts.KEPT, None, width=1024,
                               height=768, format="JPEG", phash=f"{h:016x}", size=st.st_size, mtime_ns=st.st_mtime_ns,
                               orientation=1, stored="reference", image=None))
        if len(chunk) == LIST_PART_SIZE:
            parts.write_part(stage, index, chunk, INGEST_SCHEMA, _part_fingerprint(settings_fp, chunk))
            chunk, index = [], index + 1
    if chunk:
        parts.write_part(stage, index, chunk, INGEST_SCHEMA, _part_fingerprint(settings_fp, chunk))


def child_noop(folder: str, work: str, n: int) -> dict:
    from shoemodel.curation import parts
    from shoemodel.curation.config import IngestConfig
    from shoemodel.curation.ingest import run_ingest

    cfg = IngestConfig(sources=_sources(Path(folder), n), part_size=LIST_PART_SIZE)
    t = time.perf_counter()
    s = run_ingest(Path(work) / "ingest", cfg, progress=False)
    return {"seconds": time.perf_counter() - t, "inputs": s.inputs, "duplicates": s.dropped.get("duplicate", 0),
            "parts_made": parts.run_counts["ingest"], "peak_rss_mb": _peak_mb()}


def _ledger_child(work: str) -> dict:
    """The end of a run's ledger work on the ingest parts: sum the footers' counts, check, write ledger.json."""
    from shoemodel.curation.ledger import finish_run

    t = time.perf_counter()
    counts = finish_run(Path(work), ("ingest",), {"ingest": None})
    return {"seconds": time.perf_counter() - t, "rows": counts["ingest"]["photos"]["in"], "peak_rss_mb": _peak_mb()}


def _listing_child(folder: str, n: int) -> dict:
    from shoemodel.curation.sources import iter_sources

    t = time.perf_counter()
    count = sum(1 for _ in iter_sources(_sources(Path(folder), n)))
    return {"seconds": time.perf_counter() - t, "listed": count, "peak_rss_mb": _peak_mb()}


# ---------------------------------------------------------------- driver

def _child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_photos(tmp: Path, sizes: list[int]) -> list[dict]:
    src = tmp / "photos"
    sizes_b = make_photos(src, max(sizes))
    rows = []
    for n in sizes:
        sub = tmp / f"photos_{n}"
        for p in sorted(src.rglob("*.jpg"))[:n]:
            dst = sub / p.parent.name / p.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(p, dst)
        photo_bytes = sum(sizes_b[:n])
        for mode in ("copy", "reference"):
            work = tmp / f"work_{mode}_{n}"
            ing = _child("ingest", str(sub), str(work), mode)
            rd = _child("read", str(work))
            part_bytes = _tree_bytes(work / "ingest" / "parts")
            rows.append({"photos": n, "mode": mode, "photo_MB": round(photo_bytes / 1e6, 1),
                         "mean_photo_KB": round(photo_bytes / n / 1e3, 1), "kept": ing["kept"],
                         "part_MB": round(part_bytes / 1e6, 3), "part_bytes_per_photo": round(part_bytes / n),
                         "parts_vs_photos": round(part_bytes / photo_bytes, 4),
                         "ingest_ms_per_image": round(1000 * ing["seconds"] / n, 2), "ingest_peak_rss_mb": ing["peak_rss_mb"],
                         "read_ms_per_image": round(1000 * rd["seconds"] / max(1, rd["rows"]), 2),
                         "read_peak_rss_mb": rd["peak_rss_mb"]})
            print(rows[-1], flush=True)
            shutil.rmtree(work)
        shutil.rmtree(sub)
    return rows


def run_rows(tmp: Path, sizes: list[int]) -> list[dict]:
    folder = tmp / "listing"
    t = time.perf_counter()
    make_listing(folder, max(sizes))
    print(f"made {max(sizes)} empty files in {time.perf_counter() - t:.0f} s", flush=True)
    rows = []
    for n in sizes:
        work = tmp / f"rows_{n}"
        t = time.perf_counter()
        make_list_parts(folder, work, n)
        made = time.perf_counter() - t
        listing = _child("listing", str(folder), str(n))
        cold = _child("noop", str(folder), str(work), str(n))  # no duplicate index yet: it is built (on disk)
        warm = _child("noop", str(folder), str(work), str(n))  # the same parts: the saved decisions (dup_index.json) only
        assert cold["parts_made"] == warm["parts_made"] == 0 and cold["inputs"] == n, (cold, warm)
        rows.append({"rows": n, "parts": -(-n // LIST_PART_SIZE), "make_parts_s": round(made, 1),
                     "listing_s": round(listing["seconds"], 2), "listing_peak_rss_mb": listing["peak_rss_mb"],
                     "noop_cold_index_s": round(cold["seconds"], 2), "noop_cold_peak_rss_mb": cold["peak_rss_mb"],
                     "noop_warm_index_s": round(warm["seconds"], 2), "noop_warm_peak_rss_mb": warm["peak_rss_mb"],
                     "us_per_row_cold": round(1e6 * cold["seconds"] / n, 1), "us_per_row_warm": round(1e6 * warm["seconds"] / n, 1),
                     "duplicates": cold["duplicates"], "dup_index_MB": round((work / "ingest" / INDEX_FILE).stat().st_size / 1e6, 1),
                     "ingest_parts_MB": round(_tree_bytes(work / "ingest" / "parts") / 1e6, 1)})
        print(rows[-1], flush=True)
        shutil.rmtree(work)
    return rows


def run_ledger(tmp: Path, sizes: list[int]) -> list[dict]:
    """List-only rows written as a run writes its parts (each with its ledger part), then the run's ledger end."""
    import pyarrow as pa

    from shoemodel.curation import ledger, parts

    schema = pa.schema(parts.BASE_FIELDS)
    spent = [0.0]
    write_ledger_part = ledger.write_ledger_part

    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return write_ledger_part(*a, **k)
        finally:
            spent[0] += time.perf_counter() - t

    ledger.write_ledger_part = timed
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1]}), tmp / "warm.parquet", compression="zstd")  # the process's first write (~1 s) untimed
    rows_out = []
    try:
        for n in sizes:
            work = tmp / f"ledger_{n}"
            stage = work / "ingest"
            spent[0] = 0.0
            t = time.perf_counter()
            for index in range(-(-n // LIST_PART_SIZE)):
                lo = index * LIST_PART_SIZE
                rows = [parts.row(f"/photos/{i // FILES_PER_DIR:04d}/{i:07d}.jpg", f"{i:064x}", parts.KEPT) if i % 10
                        else parts.row(f"/photos/{i // FILES_PER_DIR:04d}/{i:07d}.jpg", f"{i:064x}", parts.DROPPED,
                                       "too small: 1x1, min side 32") for i in range(lo, min(n, lo + LIST_PART_SIZE))]
                parts.write_part(stage, index, rows, schema, f"fp{index}")
            wrote = time.perf_counter() - t
            fin = _child("ledger", str(work))
            assert fin["rows"] == n, fin
            rows_out.append({"rows": n, "parts": -(-n // LIST_PART_SIZE), "write_s": round(wrote, 1),
                             "ledger_write_s": round(spent[0], 1), "ledger_write_share_pct": round(100 * spent[0] / wrote, 1),
                             "ledger_write_us_per_row": round(1e6 * spent[0] / n, 1),
                             "finish_s": round(fin["seconds"], 2), "finish_us_per_row": round(1e6 * fin["seconds"] / n, 2),
                             "finish_peak_rss_mb": fin["peak_rss_mb"],
                             "ledger_parts_MB": round(_tree_bytes(stage / "ledger") / 1e6, 1),
                             "stage_parts_MB": round(_tree_bytes(stage / "parts") / 1e6, 1)})
            print(rows_out[-1], flush=True)
            shutil.rmtree(work)
    finally:
        ledger.write_ledger_part = write_ledger_part
    return rows_out


def markdown(res: dict) -> str:
    md = ["Photos (synthetic JPEGs, 1024x768), ingest in its own process, default part_size 64:", "",
          "| photos | mode | photos MB | ingest parts MB | parts / photos | part bytes / photo | ingest ms / image | ingest peak RSS MB | read ms / image (later stages) |",
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    md += [f"| {r['photos']} | {r['mode']} | {r['photo_MB']} | {r['part_MB']} | {r['parts_vs_photos']} | {r['part_bytes_per_photo']} | "
           f"{r['ingest_ms_per_image']} | {r['ingest_peak_rss_mb']} | {r['read_ms_per_image']} |" for r in res["photos"]]
    md += ["", f"List-only rows (empty files in folders of {FILES_PER_DIR}, parts of {LIST_PART_SIZE}), a no-op `run_ingest` rerun:", "",
           "| rows | listing s | no-op rerun s (index built) | µs / row | peak RSS MB | no-op rerun s (same parts: summary only) | µs / row | peak RSS MB | dup_index.sqlite MB |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    md += [f"| {r['rows']} | {r['listing_s']} | {r['noop_cold_index_s']} | {r['us_per_row_cold']} | {r['noop_cold_peak_rss_mb']} | "
           f"{r['noop_warm_index_s']} | {r['us_per_row_warm']} | {r['noop_warm_peak_rss_mb']} | {r['dup_index_MB']} |" for r in res["rows"]]
    if res.get("ledger"):
        md += ["", f"The curation ledger with list-only rows (parts of {LIST_PART_SIZE}, every tenth row dropped with a "
               "reason), written by `parts.write_part` as a run writes them (the ledger part first, then the stage part); "
               "then the end of a run: `ledger.finish_run` sums the footers' counts, checks them and writes ledger.json, "
               "in its own process:", "",
               "| rows | parts | part writes s | of which ledger parts s | ledger share of part writes | ledger µs / row | "
               "finish_run s | µs / row | finish_run peak RSS MB | ledger parts MB | stage parts MB |",
               "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        md += [f"| {r['rows']} | {r['parts']} | {r['write_s']} | {r['ledger_write_s']} | {r['ledger_write_share_pct']} % | "
               f"{r['ledger_write_us_per_row']} | "
               f"{r['finish_s']} | {r['finish_us_per_row']} | {r['finish_peak_rss_mb']} | {r['ledger_parts_MB']} | "
               f"{r['stage_parts_MB']} |" for r in res["ledger"]]
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default="250,1000", help="photo counts (comma-separated)")
    ap.add_argument("--rows", default="125000,250000,500000,1000000", help="list-only row counts")
    ap.add_argument("--ledger-rows", default="125000,250000,500000,1000000", help="list-only row counts for the ledger")
    ap.add_argument("--tmp", default=None, help="scratch folder (default: a temporary one, removed after)")
    ap.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        kind, *args = a.child
        fn = {"ingest": lambda: child_ingest(*args), "read": lambda: child_read(*args),
              "noop": lambda: child_noop(args[0], args[1], int(args[2])), "listing": lambda: _listing_child(args[0], int(args[1])),
              "ledger": lambda: _ledger_child(args[0])}[kind]
        print(json.dumps(fn()))
        return
    tmp = Path(a.tmp or tempfile.mkdtemp(prefix="storage-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        res = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "gpu": "none (CPU only)",
                           "python": platform.python_version()},
               "photos": run_photos(tmp, [int(x) for x in a.photos.split(",") if x]) if a.photos else [],
               "rows": run_rows(tmp, [int(x) for x in a.rows.split(",") if x]) if a.rows else [],
               "ledger": run_ledger(tmp, [int(x) for x in a.ledger_rows.split(",") if x]) if a.ledger_rows else []}
    finally:
        if a.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)
    previous = json.loads((HERE / "storage.json").read_text()) if (HERE / "storage.json").exists() else {}
    for part in ("photos", "rows", "ledger"):  # a part not asked for this time keeps its earlier figures
        if not res[part]:
            res[part] = previous.get(part, [])
    (HERE / "storage.json").write_text(json.dumps(res, indent=2) + "\n")
    (HERE / "storage.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
