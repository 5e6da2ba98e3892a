"""The shoe prior's network at inference: the memory layout ShoePrior uses (channels-last) against the default
(contiguous NCHW) layout, per shipped prior, on one batch of crops the size the segment backend sends (a person's
feet x the views), in one run; plus the whole map (crop, network, map back) per photo for the default ensemble.

Run:  python benchmarks/curation/shoe_prior_speed.py      (writes shoe_prior_speed.json and .md beside this file)
"""

from __future__ import annotations

import json
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

HERE = Path(__file__).resolve().parent


def best_ms(fn, repeats: int = 30) -> float:
    """Median milliseconds of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def contiguous_probs(model, x: np.ndarray) -> np.ndarray:
    """The network in the default (contiguous NCHW) layout: the naive way."""
    import torch

    with torch.inference_mode():
        return torch.sigmoid(model(torch.from_numpy(x))[:, 0]).numpy()


def network_rows(batch: int) -> list[dict]:
    import torch

    from shoemodel.models.shoe_prior.predictor import SHIPPED_CHECK, SHIPPED_SEGMENTERS, ShoePrior

    rows = []
    for folder in (*SHIPPED_SEGMENTERS, SHIPPED_CHECK):
        prior = ShoePrior.load(folder)
        s = prior.arch.size
        x = np.random.default_rng(0).random((batch, 3, s, s), dtype=np.float32)
        channels_last = best_ms(partial(prior.crop_probs, x))
        nchw = best_ms(partial(contiguous_probs, prior.model.to(memory_format=torch.contiguous_format), x))
        prior.model.to(memory_format=torch.channels_last)
        rows.append({"prior": folder.name, "size": s, "batch": batch, "nchw_ms": round(nchw, 2),
                     "channels_last_ms": round(channels_last, 2), "speedup": round(nchw / channels_last, 2)})
    return rows


def map_row(photos: int) -> dict:
    """Whole maps (crops, both priors on the default views, back onto the image) per photo on CCP val photos."""
    from shoemodel.curation.config import SegmentConfig
    from shoemodel.curation.segment_prior import parse_views, segmenting_prior
    from shoemodel.training.shoe_prior import ccp
    from shoemodel.training.shoe_prior.data import labelled_person

    root = HERE.parents[1].parent / "shared" / "fixtures" / "images" / "ccp"
    cache = HERE.parents[1] / "data" / "shoe_prior" / "ccp_pose.json"  # `shoemodel train shoe-prior` writes it
    if not (root / "photos").is_dir() or not cache.is_file():
        return {"skipped": f"needs the CCP fixture photos ({root}) and the pose cache ({cache})"}
    poses = json.loads(cache.read_text())
    cfg = SegmentConfig()
    prior, views = segmenting_prior(cfg), parse_views(cfg.prior_views)
    persons = []
    for pid in ccp.load_split(str(HERE / "ccp_split.json"), "val"):
        image, labels = ccp.read_photo(root, pid)
        person = labelled_person(poses.get(pid, {}), ccp.footwear_mask(labels))
        if person is not None:
            persons.append((image, person))
        if len(persons) == photos:
            break
    ms = best_ms(lambda: [prior.probabilities(im, [p], views) for im, p in persons], repeats=5) / len(persons)
    return {"photos": len(persons), "views": cfg.prior_views, "members": len(getattr(prior, "members", [prior])),
            "ms_per_photo": round(ms, 2)}


def main() -> None:
    import torch

    rows, maps = network_rows(batch=4), map_row(photos=20)
    out = {"command": "python benchmarks/curation/shoe_prior_speed.py", "machine": f"{platform.machine()}, "
           f"{torch.get_num_threads()} torch threads, torch {torch.__version__}", "network": rows, "default_map": maps}
    (HERE / "shoe_prior_speed.json").write_text(json.dumps(out, indent=2) + "\n")
    md = (f"# Shoe prior inference speed\n\n`{out['command']}` ({out['machine']}; CPU)\n\n"
          "| prior | crop px | batch | NCHW ms | channels-last ms (used) | speed-up |\n|---|---|---|---|---|---|\n")
    md += "".join(f"| {r['prior']} | {r['size']} | {r['batch']} | {r['nchw_ms']} | {r['channels_last_ms']} | "
                  f"{r['speedup']}x |\n" for r in rows)
    md += ("\nDefault segmenting prior, whole maps (crop, network, back onto the image) on CCP val photos: "
           + (maps.get("skipped") or f"{maps['ms_per_photo']} ms per photo ({maps['members']} priors x views "
                                     f"\"{maps['views']}\", {maps['photos']} photos)") + "\n")
    (HERE / "shoe_prior_speed.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
