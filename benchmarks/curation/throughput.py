"""Curation throughput: the staged pipeline (inline and on a 2-worker LocalCluster) vs a naive per-image loop.

Also: SAM with the image embedding computed once and all foot prompts batched vs one embedding per foot.
Inputs: the fixture photos (COCO, ultralytics samples), re-encoded into N distinct files (so dedup keeps them).
Run:  python benchmarks/curation/throughput.py --n 48   (writes results.json and results.md beside this file)
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: tests/helpers holds the tiny builders

HERE = Path(__file__).resolve().parent
FIXTURES = Path(os.environ.get("SHOEMODEL_FIXTURES", HERE.parents[1].parent / "shared" / "fixtures"))


def make_inputs(folder: Path, n: int) -> list[Path]:
    """n distinct JPEGs cycled from the fixture photos (quality varies, so every file hashes differently)."""
    src = sorted((FIXTURES / "images" / "mmpose" / "coco").glob("*.jpg")) + sorted((FIXTURES / "images" / "ultralytics_samples").glob("*.jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        im = Image.open(src[i % len(src)]).convert("RGB")
        p = folder / f"{i:05d}.jpg"
        im.save(p, quality=80 + i // len(src) % 20)
        out.append(p)
    return out


def config(work: Path, files: list[Path]):
    from shoemodel.curation.config import CurationConfig

    cfg = CurationConfig(work_dir=str(work), progress=False)
    cfg.ingest.sources, cfg.ingest.part_size = [str(f.parent) for f in files[:1]], 8
    cfg.detect.backend, cfg.detect.weights = "yolox_onnx", str(FIXTURES / "weights" / "yolox_nano" / "yolox_nano.onnx")
    return cfg


def naive(files: list[Path], cfg) -> tuple[float, int]:
    """One image at a time: read, decode, detect, pose, segment, make the record; models loaded once (fair)."""
    from shoemodel.curation.build import make_shoe_leg_record
    from shoemodel.curation.detect import build_detector, select_persons
    from shoemodel.curation.pose import build_pose, quality_reason, to_shoeleg
    from shoemodel.curation.segment import build_segmenter, segment_image
    from shoemodel.schemas.records import decode_image, encode_png

    det, est, seg = build_detector(cfg.detect), build_pose(cfg.pose), build_segmenter(cfg.segment)
    t = time.perf_counter()
    kept = 0
    for f in files:
        data = f.read_bytes()
        im = decode_image(data, "RGB")
        boxes, kp = det.detect([im])[0]
        keep, reason = select_persons(boxes, kp, im.shape[1], im.shape[0], cfg.detect)
        if reason:
            continue
        k = to_shoeleg(est.estimate(im, keep[:1])[0], im.shape[1], im.shape[0], cfg.pose.min_point_score)
        if quality_reason(k, keep[0], cfg.pose):
            continue
        mask, reason, qc = segment_image(im, k, seg, cfg.segment)
        if reason:
            continue
        import hashlib

        item = {"image": data, "shoe_mask": encode_png(mask.astype(np.uint8) * 255), "source_uri": str(f), "keypoints": k.reshape(-1).tolist(),
                "content_hash": hashlib.sha256(data).hexdigest(), "person_box": keep[0].tolist(), "mask_qc": json.dumps(qc)}
        make_shoe_leg_record(item, {}, cfg.build)
        kept += 1
    return time.perf_counter() - t, kept


def staged(files: list[Path], work: Path, kind: str) -> tuple[float, int, float]:
    """The DVC-stage path (writes parts and shards); returns (seconds, records, seconds incl. cluster start)."""
    import dataclasses

    from shoemodel.curation.pipeline import executor_config, run_all
    from shoemodel.parallel import executor_from_config

    cfg = config(work, files)
    cfg.executor = dataclasses.replace(cfg.executor, kind=kind, n_workers=2, threads_per_worker=1)
    t0 = time.perf_counter()
    with executor_from_config(executor_config(cfg)) as ex:
        if kind != "inline":  # warm the workers' imports so the number is throughput, not start-up
            ex.client.run(lambda: __import__("shoemodel.curation.pose"))
        t = time.perf_counter()
        s = run_all(cfg, work / "set", ex)
        dt = time.perf_counter() - t
    return dt, s["build"]["kept"], time.perf_counter() - t0


def sam_batching(files: list[Path], vit_b: bool = False) -> dict:
    """SAM: one embedding + batched foot prompts vs one embedding per foot (what a naive loop does).

    Tiny random SAM by default; `vit_b` builds the real ViT-B SAM (random weights, 1024 px input).
    """
    import torch

    from shoemodel.compat.torchvision import ensure_torchvision
    from shoemodel.curation.prompts import foot_prompts
    from shoemodel.curation.segment_sam import SamSegmenter
    from shoemodel.schemas.records import decode_image
    from tests.helpers.tiny_models import tiny_sam

    torch.manual_seed(0)
    ensure_torchvision()
    if vit_b:
        from segment_anything import sam_model_registry

        model = sam_model_registry["vit_b"](checkpoint=None)
        files = files[:2]
    else:
        model = tiny_sam()
    seg = SamSegmenter(model)
    k = np.zeros((12, 3), np.float32)
    k[[4, 6, 8, 5, 9, 11]] = [[200, 300, 1], [230, 330, 1], [190, 335, 1], [300, 300, 1], [330, 330, 1], [290, 335, 1]]
    images = [decode_image(f.read_bytes(), "RGB") for f in files[:8]]
    prompts = [foot_prompts(k, im.shape[1], im.shape[0]) for im in images]
    seg.segment(images[0], prompts[0])
    t = time.perf_counter()
    for im, p in zip(images, prompts):
        seg.segment(im, p)
    batched = time.perf_counter() - t
    t = time.perf_counter()
    for im, p in zip(images, prompts):
        for one in p:
            seg.segment(im, [one])
    per_foot = time.perf_counter() - t
    return {"images": len(images), "feet_per_image": 2, "batched_s": round(batched, 3), "per_foot_s": round(per_foot, 3),
            "speedup": round(per_foot / batched, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--sam-vit-b", action="store_true", help="also time the full-size ViT-B SAM (random weights; ~1 min on 2 cores)")
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    tmp = Path(tempfile.mkdtemp(prefix="curation-bench-"))
    try:
        files = make_inputs(tmp / "raw", args.n)
        cfg = config(tmp / "naive", files)
        t_naive, k_naive = naive(files, cfg)
        t_inline, k_inline, _ = staged(files, tmp / "inline", "inline")
        t_dask, k_dask, t_dask_all = staged(files, tmp / "dask", "local")
        sam = sam_batching(files)
        sam_b = sam_batching(files, vit_b=True) if args.sam_vit_b else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only",
        "images": args.n,
        "naive_loop": {"seconds": round(t_naive, 2), "img_per_s": round(args.n / t_naive, 2), "records": k_naive},
        "staged_inline": {"seconds": round(t_inline, 2), "img_per_s": round(args.n / t_inline, 2), "records": k_inline},
        "staged_dask_2_workers": {"seconds": round(t_dask, 2), "img_per_s": round(args.n / t_dask, 2), "records": k_dask,
                                  "seconds_with_cluster_start": round(t_dask_all, 2)},
        "sam_prompt_batching_tiny": sam,
        **({"sam_prompt_batching_vit_b": sam_b} if sam_b else {}),
        "note": "2 shared cores (other jobs ran at the same time: load average ~6), so Dask workers add overhead, not speed, here",
    }
    (HERE / "results.json").write_text(json.dumps(res, indent=2) + "\n")
    md = [f"# Curation throughput ({res['machine']}, {args.n} fixture photos, YOLOX-Nano + MediaPipe + GrabCut)", "",
          "| path | seconds | images/s | records |", "|---|---|---|---|"]
    for name in ("naive_loop", "staged_inline", "staged_dask_2_workers"):
        r = res[name]
        md.append(f"| {name} | {r['seconds']} | {r['img_per_s']} | {r['records']} |")
    md += ["", f"SAM (tiny random, {sam['images']} images x 2 feet): one embedding + batched prompts {sam['batched_s']} s "
           f"vs one embedding per foot {sam['per_foot_s']} s ({sam['speedup']}x).", ""]
    if sam_b:
        md += [f"SAM ViT-B (random weights, 1024 px, {sam_b['images']} images x 2 feet): batched {sam_b['batched_s']} s "
               f"vs per foot {sam_b['per_foot_s']} s ({sam_b['speedup']}x).", ""]
    md += [res["note"], ""]
    (HERE / "results.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
