"""Incremental curation: first run, no-op rerun, and +1 % new photos, against redoing everything.

The naive way a run grows is to curate the whole folder again (what a fingerprint over the whole file
list does); content-keyed parts redo only what is new. All of `curate run` is timed (ingest, detect,
pose, segment, build), in-process, with the same backends as the throughput benchmark.
Inputs: the fixture photos, each randomly cropped, flipped and re-encoded into N distinct pictures
(so the near-duplicate pass keeps them apart; the few it still merges are reported).
Run:  python benchmarks/curation/incremental.py --n 800   (writes incremental.json / incremental.md beside this file)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

HERE = Path(__file__).resolve().parent
FIXTURES = Path(os.environ.get("SHOEMODEL_FIXTURES", HERE.parents[1].parent / "shared" / "fixtures"))


def make_photos(folder: Path, start: int, n: int) -> None:
    """Photos start..start+n-1: a random crop (70-100 %) of a fixture photo, maybe mirrored, re-encoded."""
    src = sorted((FIXTURES / "images" / "mmpose" / "coco").glob("*.jpg")) + sorted((FIXTURES / "images" / "ultralytics_samples").glob("*.jpg"))
    if not src:
        raise SystemExit(f"fixture photos not found under {FIXTURES}")
    ims = [Image.open(p).convert("RGB") for p in src]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        rng = np.random.default_rng(i)
        im = ims[i % len(ims)]
        w, h = im.size
        f = rng.uniform(0.7, 1.0)
        cw, ch = int(w * f), int(h * f)
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        out = im.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            out = out.transpose(Image.FLIP_LEFT_RIGHT)
        out.save(folder / f"{i:06d}.jpg", quality=int(rng.integers(80, 95)))


def config(work: Path, raw: Path):
    from shoemodel.curation.config import CurationConfig

    cfg = CurationConfig(work_dir=str(work), progress=False)
    cfg.ingest.sources, cfg.ingest.part_size = [str(raw)], 16
    weights = FIXTURES / "weights" / "yolox_nano" / "yolox_nano.onnx"
    cfg.detect.backend, cfg.detect.weights = ("yolox_onnx", str(weights)) if weights.exists() else ("full_frame", "")
    cfg.build.records_per_shard = 64
    return cfg


def timed_run(cfg, out: Path) -> tuple[float, dict]:
    from shoemodel.curation import parts
    from shoemodel.curation.pipeline import run_all
    from shoemodel.store import writer

    t = time.perf_counter()
    summary = run_all(cfg, out)
    dt = time.perf_counter() - t
    return dt, {"parts_made": dict(parts.run_counts), "shards_made": writer.write_counts.get(str(out)),
                "kept": summary["build"]["kept"], "inputs": summary["ingest"]["inputs"],
                "duplicates": summary["ingest"]["dropped"].get("duplicate", 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=800)
    ap.add_argument("--grow", type=float, default=0.01, help="fraction of new photos added for the third run")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    d = Path(tempfile.mkdtemp(prefix="incremental-"))
    try:
        raw = d / "raw"
        make_photos(raw, 0, args.n)
        cfg = config(d / "work", raw)
        first, s1 = timed_run(cfg, d / "set")
        noop, s2 = timed_run(cfg, d / "set")
        n_new = max(1, round(args.n * args.grow))
        make_photos(raw, args.n, n_new)
        grown, s3 = timed_run(cfg, d / "set")
        # the naive way: the grown folder curated from scratch (every part redone)
        full, s4 = timed_run(config(d / "work2", raw), d / "set2")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    res = {"n": args.n, "new": n_new, "backends": {"detect": cfg.detect.backend, "pose": cfg.pose.backend, "segment": cfg.segment.backend},
           "part_size": cfg.ingest.part_size, "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "seconds": {"first_run": round(first, 2), "noop_rerun": round(noop, 2), "plus_new_rerun": round(grown, 2),
                       "full_rerun_of_grown_folder": round(full, 2)},
           "work": {"first_run": s1, "noop_rerun": s2, "plus_new_rerun": s3, "full_rerun_of_grown_folder": s4},
           "ratio_full_over_incremental": round(full / grown, 1), "ratio_first_over_noop": round(first / noop, 1)}
    (HERE / "incremental.json").write_text(json.dumps(res, indent=2) + "\n")
    md = [f"Incremental curation, {args.n} photos (+{n_new} new), detect {cfg.detect.backend}, pose {cfg.pose.backend}, "
          f"segment {cfg.segment.backend}, {res['machine']}", "",
          "| run | seconds | parts made (ingest/detect/pose/segment) | shards made |", "|---|---:|---|---:|"]
    for key, label in (("first_run", "first run"), ("noop_rerun", "no-op rerun"), ("plus_new_rerun", f"+{n_new} photos"),
                       ("full_rerun_of_grown_folder", "naive: grown folder from scratch")):
        w = res["work"][key]["parts_made"]
        md.append(f"| {label} | {res['seconds'][key]} | {w.get('ingest')}/{w.get('detect')}/{w.get('pose')}/{w.get('segment')} | "
                  f"{res['work'][key]['shards_made']} |")
    md += ["", f"naive / incremental for +{n_new}: {res['ratio_full_over_incremental']}x; first run / no-op: {res['ratio_first_over_noop']}x"]
    (HERE / "incremental.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
