"""Training throughput (samples/s) of every trainer on the shared engine, and SW's fast path against its plain loop.

    python benchmarks/training/throughput.py --out benchmarks/training/throughput.json     # CPU, tiny models, ~3 min
    python benchmarks/training/throughput.py --gpu --out ...                                # on a GPU: real-run sizes

samples/s is the engine's own figure (`train.json`): optimiser steps after the first (start-up, compilation)
times the global batch, over their wall time. SW runs twice in the same process: the fast path (latent
cache, built first and timed apart) and the plain loop (VAE encoder and CLIP text encoder in every step);
the ratio is the cache's gain at these shapes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def configs(work: Path, sets: dict[str, Path], gpu: bool, steps: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (trainer kind, config kwargs); CPU: the tiny sizes of the sample run; GPU: real-run sizes, random init."""
    common = dict(steps=steps, num_workers=4 if gpu else 0, progress=False, log_every=1, checkpoint_every=0,
                  warmup_steps=0, cpu_threads=1, mixed_precision="auto")
    out = {}

    def add(name: str, kind: str, **kw: Any) -> None:
        out[name] = (kind, dict(output_dir=str(work / name), metrics_dir=str(work / f"m_{name}"), **common, **kw))

    if gpu:
        add("wd", "wd", train_set=str(sets["wearable"]), model_size="b2", image_size=640, batch_size=8)
        add("lps_keypoints", "lps_keypoints", train_set=str(sets["shoe_leg"]), model_size="small", image_size=256, batch_size=64)
        add("lps_diffusion", "lps_diffusion", train_set=str(sets["shoe_leg"]), batch_size=512)
    else:
        add("wd", "wd", train_set=str(sets["wearable"]), model_size="tiny", image_size=64, batch_size=4)
        add("lps_keypoints", "lps_keypoints", train_set=str(sets["shoe_leg"]), model_size="tiny", image_size=64, batch_size=8)
        add("lps_diffusion", "lps_diffusion", train_set=str(sets["shoe_leg"]), hidden_size=32, num_blocks=1,
            time_embed_dim=16, batch_size=64)
    sw = dict(train_set=str(sets["shoe_leg"]), base_model="tiny", resolution=64, batch_size=8 if gpu else 4,
              validation_every=0, num_validation_images=0)
    add("sw", "sw", latent_cache=str(work / "sw_cache"), **sw)
    add("sw_no_cache", "sw", latent_cache="", **sw)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--records", type=int, default=32)
    ap.add_argument("--gpu", action="store_true", help="real-run model sizes (random init) instead of the tiny ones")
    ap.add_argument("--only", nargs="*", default=None, help="names to run (wd lps_keypoints lps_diffusion sw sw_no_cache)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    import torch
    from accelerate.state import AcceleratorState

    from tests.helpers.launch_trainers import run
    from tests.helpers.sets import write_synthetic_set

    work = Path(tempfile.mkdtemp(prefix="throughput-"))
    size = 128 if args.gpu else 64
    sets = {"wearable": write_synthetic_set(work / "wearable_area", "wearable_area", args.records, size),
            "shoe_leg": write_synthetic_set(work / "shoe_leg", "shoe_leg", args.records, size)}
    rows: dict[str, Any] = {}
    for name, (kind, cfg) in configs(work, sets, args.gpu, args.steps).items():
        if args.only and name not in args.only:
            continue
        AcceleratorState._reset_state(True)
        t = time.perf_counter()
        if kind == "sw" and cfg.get("latent_cache"):
            from shoemodel.training.sw.config import SWConfig
            from shoemodel.training.sw.train import build_sw_cache

            build_sw_cache(SWConfig(**cfg))
        cache_s = time.perf_counter() - t
        summary = run(kind, cfg)
        rows[name] = {"samples_per_second": summary["samples_per_second"], "batch": cfg["batch_size"],
                      "steps": summary["steps"], "mixed_precision": summary["mixed_precision"],
                      **({"cache_build_s": round(cache_s, 2)} if kind == "sw" and cfg.get("latent_cache") else {})}
        print(f"{name:15s} {summary['samples_per_second']:9.2f} samples/s  (batch {cfg['batch_size']}, "
              f"{summary['mixed_precision']})", flush=True)
    if "sw" in rows and "sw_no_cache" in rows:
        rows["sw_cache_speedup"] = rows["sw"]["samples_per_second"] / rows["sw_no_cache"]["samples_per_second"]
        print(f"SW latent cache: {rows['sw_cache_speedup']:.2f}x the plain loop")
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else \
        f"CPU ({platform.machine()}, {os.cpu_count()} cores, 1 torch thread)"
    record = {"device": device, "torch": torch.__version__, "steps": args.steps, "records": args.records,
              "sizes": "real-run (random init)" if args.gpu else "tiny (sample run)", "trainers": rows}
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
