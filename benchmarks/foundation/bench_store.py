"""Benchmark: writing and reading a set with the shard store vs the naive way vs HF datasets.

    python benchmarks/foundation/bench_store.py --n 512 --size 256 --out benchmarks/foundation/results.json

Compares, on the same synthetic records, in one run:
- shoemodel shard store (Parquet shards, atomic, resumable, validated),
- naive: one PNG per image/mask + one JSON per record (what many pipelines do),
- reference: `datasets.Dataset.from_generator(...).save_to_disk` (HF datasets Arrow).
Also times the synthetic generator alone (images per second).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from shoemodel.schemas.builder import build_record
from shoemodel.schemas.records import ValidationOptions
from shoemodel.store import iter_records, write_set
from shoemodel.synthetic import make_worn_example


def make_record(i: int, size: int) -> dict:
    ex = make_worn_example(i, size)
    return build_record("shoe_leg", id=f"r{i}", source_uri=f"synthetic://{i}", image=ex.image, shoe_image=ex.shoe_image,
                        shoe_mask=(ex.shoe_mask * 255).astype(np.uint8), keypoints=ex.keypoints, split="train",
                        caption=ex.caption, provenance={})


REPEATS = 3


def timed(fn) -> float:
    """Median wall time of REPEATS calls (each call gets a fresh output folder from its caller)."""
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def fresh(base: Path, name: str) -> Path:
    """A new empty folder for one repeat of one method."""
    i = 0
    while (base / f"{name}{i}").exists():
        i += 1
    return base / f"{name}{i}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--out", default="benchmarks/foundation/results.json")
    args = ap.parse_args()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    records = [make_record(i, args.size) for i in range(8)]  # warm-up imports
    gen_s = timed(lambda: [make_worn_example(i, args.size) for i in range(args.n)])  # one core
    records = [make_record(i, args.size) for i in range(args.n)]
    tmp = Path(tempfile.mkdtemp())
    res: dict[str, float] = {}

    res["store_write_s"] = timed(lambda: write_set(fresh(tmp, "store"), "shoe_leg", range(args.n), lambda i: records[i], records_per_shard=128,
                                                   validation=ValidationOptions(decode_images=False), progress=False))
    res["store_write_validated_s"] = timed(lambda: write_set(fresh(tmp, "store_v"), "shoe_leg", range(args.n), lambda i: records[i],
                                                             records_per_shard=128, progress=False))

    def naive_write():
        d = fresh(tmp, "naive")
        d.mkdir()
        for r in records:
            for key in ("image", "shoe_image", "shoe_mask"):
                (d / f"{r['id']}_{key}.png").write_bytes(r[key])
            meta = {k: v for k, v in r.items() if not isinstance(v, bytes)}
            (d / f"{r['id']}.json").write_text(json.dumps(meta))

    res["naive_write_s"] = timed(naive_write)

    def hf_write():
        from datasets import Dataset

        # a fresh cache_dir each time: from_generator would otherwise reuse its cached Arrow file
        Dataset.from_generator(partial(iter, records), cache_dir=str(fresh(tmp, "hfcache"))).save_to_disk(str(fresh(tmp, "hf")))

    res["hf_datasets_write_s"] = timed(hf_write)
    res["store_read_s"] = timed(lambda: sum(1 for _ in iter_records(tmp / "store0")))

    def naive_read():
        d = tmp / "naive0"
        for i in range(args.n):
            json.loads((d / f"r{i}.json").read_text())
            for key in ("image", "shoe_image", "shoe_mask"):
                (d / f"r{i}_{key}.png").read_bytes()

    res["naive_read_s"] = timed(naive_read)

    def hf_read():
        from datasets import load_from_disk

        for _ in load_from_disk(str(tmp / "hf0")):
            pass

    res["hf_datasets_read_s"] = timed(hf_read)
    files = {name: sum(1 for p in (tmp / f"{name}0").rglob("*") if p.is_file()) for name in ("store", "naive", "hf")}
    shutil.rmtree(tmp)
    out = {
        "n_records": args.n, "repeats": REPEATS, "statistic": "median", "image_size": args.size, "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "synthetic_images_per_s": round(args.n / gen_s, 1),
        **{k: round(v, 3) for k, v in res.items()},
        "write_ratio_naive_over_store": round(res["naive_write_s"] / res["store_write_s"], 2),
        "write_ratio_hf_over_store": round(res["hf_datasets_write_s"] / res["store_write_s"], 2),
        "read_ratio_naive_over_store": round(res["naive_read_s"] / res["store_read_s"], 2),
        "read_ratio_hf_over_store": round(res["hf_datasets_read_s"] / res["store_read_s"], 2),
        "files_on_disk": files,
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
