"""Curation throughput: the naive per-image loop vs the batched stages vs the fused path vs each model's bare batched
forward pass (the ceiling), per stage and end to end, in one run; plus peak memory and a 2-worker Dask cluster vs inline.

Models have random weights (throughput, not quality); the stage filters are opened so every image goes through
every model. Tiny sizes (default, CPU): YOLOX-nano-sized ONNX (dynamic batch), a 2-layer ViTPose with the 133-point
head, a 256-px SAM. `--real-sizes`: YOLOX-s ONNX, ViTPose-H-sized 133-point model, SAM ViT-B and ViT-H, and the bare
encoder of SAM 2.1 hiera-tiny (for a GPU: benchmarks/gpu/run_all.sh).
Inputs: the fixture photos (COCO, ultralytics samples) re-encoded into N distinct JPEGs.
Run:  python benchmarks/curation/throughput.py --n 24        (writes results.json and results.md beside this file)
      python benchmarks/curation/throughput.py --real-sizes --device cuda --n 64 --batch 16 --out results_gpu
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: tests/helpers holds the tiny builders
sys.path.insert(0, str(Path(__file__).resolve().parent))

HERE = Path(__file__).resolve().parent
FIXTURES = Path(os.environ.get("SHOEMODEL_FIXTURES", HERE.parents[1].parent / "shared" / "fixtures"))
STAGES = ("detect", "pose", "segment")


def make_inputs(folder: Path, n: int) -> list[Path]:
    """n distinct JPEGs cycled from the fixture photos (quality varies, so every file hashes differently)."""
    src = sorted((FIXTURES / "images" / "mmpose" / "coco").glob("*.jpg")) + sorted((FIXTURES / "images" / "ultralytics_samples").glob("*.jpg"))
    if not src:
        raise SystemExit(f"no fixture photos under {FIXTURES} (set SHOEMODEL_FIXTURES)")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        im = Image.open(src[i % len(src)]).convert("RGB")
        p = folder / f"{i:05d}.jpg"
        im.save(p, quality=80 + i // len(src) % 20)
        out.append(p)
    return out


class PeakMemory:
    """Peak resident memory of this process and its children (Dask workers) above the start, sampled every 20 ms;
    on CUDA also torch's peak allocated GPU memory."""

    def __init__(self, device: str):
        import psutil

        self.proc, self.device, self.peak, self._stop = psutil.Process(), device, 0, threading.Event()

    def _rss(self) -> int:
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # noqa: BLE001 - a child that just exited
                pass
        return total

    def __enter__(self) -> PeakMemory:
        import torch

        self.base = self._rss()
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)

    def __exit__(self, *exc: Any) -> None:
        import torch

        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self._rss())
        self.host_mb = round(max(self.peak - self.base, 0) / 2**20, 1)
        self.gpu_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1) if self.device.startswith("cuda") else None


def timed(fn: Any, device: str) -> tuple[float, dict[str, Any]]:
    """Seconds for fn() (GPU work synchronised) and its peak memory."""
    import torch

    with PeakMemory(device) as mem:
        t = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
    return dt, {"peak_host_mb": mem.host_mb, **({"peak_gpu_mb": mem.gpu_mb} if mem.gpu_mb is not None else {})}


# ---------------------------------------------------------------- models and config


def build_models(tmp: Path, real: bool, sam_type: str) -> dict[str, Any]:
    """Model files on disk (loaded through the stages' own config path) at tiny or real size."""
    import sized_models
    import torch

    from tests.helpers.tiny_models import tiny_sam, tiny_vitpose

    torch.manual_seed(0)
    out: dict[str, Any] = {}
    out["yolox"] = sized_models.yolox_onnx(tmp / "yolox.onnx", width=0.50 if real else 0.25)
    with torch.device("cuda" if real and torch.cuda.is_available() else "cpu"):  # random init of 600M weights: on the GPU
        pose = sized_models.vitpose_h() if real else tiny_vitpose()
        pose.save_pretrained(tmp / "vitpose")
        del pose
        sam, name = (sized_models.sam(sam_type), f"sam_{sam_type}_random.pth") if real else (tiny_sam(), "sam_tiny_random.pth")
        torch.save(sam.state_dict(), tmp / name)
        del sam
    out["vitpose"] = tmp / "vitpose"
    out["sam"] = tmp / name
    return out


def config(work: Path, sources: list[str], files: dict[str, Any], device: str, dtype: str, batch: int,
           threads: int, score_threshold: float) -> Any:
    """A CurationConfig over the random models, filters opened (every image through every model)."""
    from shoemodel.curation.config import CurationConfig

    cfg = CurationConfig(work_dir=str(work), progress=False)
    cfg.ingest.sources, cfg.ingest.part_size = sources, max(batch * 2, 8)
    cfg.ingest.near_duplicates = False  # the inputs are re-encodings of a few photos: all of them must reach the models
    cfg.detect = dataclasses.replace(cfg.detect, backend="yolox_onnx", weights=str(files["yolox"]), score_threshold=score_threshold,
                                     min_box_height_frac=0.0, max_persons=1)
    cfg.pose = dataclasses.replace(cfg.pose, backend="vitpose", weights=str(files["vitpose"]), min_point_score=-1e9,
                                   min_complete_feet=0, min_leg_frac=0.0, max_leg_frac=1e9)
    cfg.segment = dataclasses.replace(cfg.segment, backend="sam", weights=str(files["sam"]), max_box_fill=1e9,
                                      min_foot_area_ratio=0.0, min_thickness_ratio=0.0, max_other_foot_frac=1.0,
                                      max_above_ankle_frac=1.0, max_components=10**9, max_leg_overlap=1.0, min_feet=0)
    for s in (cfg.detect, cfg.pose, cfg.segment):
        s.device, s.dtype, s.batch_size, s.loader_threads = device, dtype, batch, threads
    cfg.detect.device = device if device == "cpu" or _onnx_has_cuda() else "cpu"  # CPU onnxruntime: YOLOX on the CPU
    return cfg


def _onnx_has_cuda() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def calibrated_threshold(weights: Path, image: np.ndarray) -> float:
    """The 99th percentile of a random detector's anchor scores: ~1% of anchors pass, as with a real detector's NMS load."""
    from shoemodel.curation.detect_yolox import YoloxOnnxDetector

    det = YoloxOnnxDetector(weights, device="cpu")
    x, _ = det._preprocess(image)
    out = det.session.run(None, {det.input_name: x[None]})[0][0]
    return float(np.percentile(out[:, 4] * out[:, 5], 99))


# ---------------------------------------------------------------- per-stage rows


def _feet(image_shape: tuple[int, ...]) -> list[float]:
    from shoemodel.schemas.keypoints import KEYPOINT_NAMES

    h, w = image_shape[:2]
    k = np.zeros((12, 3), np.float32)
    for side, x in (("left", 0.35), ("right", 0.6)):
        for name, (dx, dy) in {"knee": (0, 0.7), "ankle": (0, 0.85), "big_toe": (0.05, 0.9), "heel": (-0.02, 0.9)}.items():
            k[KEYPOINT_NAMES.index(f"{side}_{name}")] = ((x + dx) * w, dy * h, 0.9)
    return k.reshape(-1).tolist()


def stage_inputs(files: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Rows each stage reads: ingest rows; + two person boxes (pose); + two feet of keypoints (segment)."""
    from shoemodel.schemas.records import decode_image

    base = []
    for f in files:
        data = f.read_bytes()
        h, w = decode_image(data, "RGB").shape[:2]
        base.append({"source_uri": str(f), "content_hash": f.name, "image": data, "shape": (h, w)})
    pose = [{**r, "boxes": [0, 0, r["shape"][1], r["shape"][0], 1.0, r["shape"][1] * 0.2, r["shape"][0] * 0.1,
                            r["shape"][1] * 0.7, r["shape"][0] * 0.95, 0.9]} for r in base]
    seg = [{**r, "keypoints": _feet(r["shape"])} for r in base]
    return {"detect": base, "pose": pose, "segment": seg}


def bare_forward(name: str, model: Any, rows: list[dict[str, Any]], batch: int, device: str) -> tuple[Any, int]:
    """(a function running only the model's batched forward on inputs already preprocessed on the device, item count)."""
    import torch

    from shoemodel.schemas.records import decode_image

    images = [decode_image(r["image"], "RGB") for r in rows]
    if name == "detect":
        x = np.stack([model._preprocess(im)[0] for im in images])
        chunks = [x[i: i + batch] for i in range(0, len(x), batch)]
        return (lambda: [model.session.run(None, {model.input_name: c}) for c in chunks]), len(images)
    if name == "pose":
        boxes = [[[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in np.asarray(r["boxes"]).reshape(-1, 5)] for r in rows]
        px = model.processor(images, boxes=boxes, return_tensors="pt")["pixel_values"].to(device, model.dtype)
        chunks = [px[i: i + batch * 2] for i in range(0, len(px), batch * 2)]  # two crops per image

        def run_pose() -> None:
            with torch.inference_mode():
                for c in chunks:
                    model.model(pixel_values=c)
        return run_pose, len(images)
    from shoemodel.curation import sam_batch

    prepared = [sam_batch.prepare(model.sam, images[i: i + batch], device) for i in range(0, len(images), batch)]
    for p in prepared:
        p.pixels = p.pixels.to(device, model.dtype)
    return (lambda: [sam_batch.embed(model.sam, p, device, model.dtype) for p in prepared]), len(images)


def per_stage(cfg: Any, rows: dict[str, list[dict[str, Any]]], batch: int, device: str) -> dict[str, Any]:
    """Per model stage: naive (one image at a time, decode in line), batched (prefetching loader), bare forward."""
    from shoemodel.curation import models
    from shoemodel.curation.stages import stage

    out = {}
    for name in STAGES:
        st = stage(name)
        section = getattr(cfg, st.config)
        model = models.cached(name, section, st.build_model)
        n = len(rows[name])
        st.rows(rows[name][:2], model, section)  # warm-up (lazy inits, kernels)
        naive_cfg = dataclasses.replace(section, batch_size=1, loader_threads=0)
        t_naive, m_naive = timed(partial(st.rows, rows[name], model, naive_cfg), device)
        t_batch, m_batch = timed(partial(st.rows, rows[name], model, section), device)
        fn, items = bare_forward(name, model, rows[name], batch, device)
        fn()
        t_bare, m_bare = timed(fn, device)
        out[name] = {"naive": _row(n, t_naive, m_naive), "batched": _row(n, t_batch, m_batch), "bare_forward": _row(items, t_bare, m_bare),
                     "batched_vs_naive": round(t_naive / t_batch, 2), "batched_vs_bare": round(t_bare / t_batch, 3),
                     "host_ms_per_image": round(1000 * (t_batch / n - t_bare / items), 2),  # work outside the forward
                     "runtime": getattr(model, "runtime", {})}
    return out


def _row(n: int, seconds: float, mem: dict[str, Any]) -> dict[str, Any]:
    return {"images": n, "seconds": round(seconds, 3), "img_per_s": round(n / seconds, 2), **mem}


# ---------------------------------------------------------------- end to end


def naive_end_to_end(cfg: Any, files: list[Path]) -> tuple[float, int]:
    """One image at a time: read, decode, detect, pose, segment (models loaded once; no part files)."""
    from shoemodel.curation import models
    from shoemodel.curation.stage_io import decode_rgb
    from shoemodel.curation.stages import stage

    mdl = {n: models.cached(n, getattr(cfg, stage(n).config), stage(n).build_model) for n in STAGES}
    one = {n: dataclasses.replace(getattr(cfg, stage(n).config), batch_size=1, loader_threads=0) for n in STAGES}
    from shoemodel.curation.fused import _DECODED

    kept = 0
    t = time.perf_counter()
    for f in files:
        row = {"source_uri": str(f), "content_hash": f.name, "image": f.read_bytes()}
        image = decode_rgb(row["image"])
        for n in STAGES:
            res = _DECODED[n]([row], [image], mdl[n], one[n])[0]
            if res["status"] != "kept":
                break
            row = {**row, **{k: v for k, v in res.items() if k not in ("status", "reason")}}
        else:
            kept += 1
    return time.perf_counter() - t, kept


def pipeline_run(cfg: Any, work: Path, executor: Any, fused: bool, device: str = "cpu") -> tuple[float, dict[str, Any]]:
    """detect, pose and segment through the project's stage runner (parts on disk), staged or fused; ingest untimed."""
    from shoemodel.curation.fused import run_fused
    from shoemodel.curation.pipeline import run_stage

    c = dataclasses.replace(cfg, work_dir=str(work), fused=fused)
    run_stage("ingest", c, work / "set", executor)
    resources = (c.gpu_resources or None) if executor is not None and hasattr(executor, "client") else None

    def go() -> None:
        if fused:
            run_fused(c, executor, resources)
        else:
            for n in STAGES:
                run_stage(n, c, work / "set", executor)
    return timed(go, device)


def end_to_end(cfg: Any, files: list[Path], tmp: Path, stages: dict[str, Any], device: str, cluster: bool) -> dict[str, Any]:
    n = len(files)
    naive_end_to_end(cfg, files[:2])
    t_naive, m_naive = timed(lambda: naive_end_to_end(cfg, files), device)
    out: dict[str, Any] = {"naive": _row(n, t_naive, m_naive)}
    for name, fused in (("batched", False), ("fused", True)):
        pipeline_run(cfg, tmp / f"warm-{name}", None, fused, device)
        t, mem = pipeline_run(cfg, tmp / f"e2e-{name}", None, fused, device)
        out[name] = _row(n, t, mem)
    bare = {s: stages[s]["bare_forward"]["img_per_s"] for s in STAGES}
    serial = 1.0 / sum(1.0 / v for v in bare.values())  # one device runs the three models one after another
    out["ceiling_serial_bare"] = round(serial, 2)
    out["slowest_model"] = min(bare, key=bare.get)
    out["slowest_model_bare_img_per_s"] = bare[out["slowest_model"]]
    for name in ("batched", "fused"):
        out[f"{name}_vs_naive"] = round(out[name]["img_per_s"] / out["naive"]["img_per_s"], 2)
        out[f"{name}_vs_ceiling"] = round(out[name]["img_per_s"] / serial, 3)
    if cluster:
        out["cluster_2_workers"] = cluster_rows(cfg, tmp, n, device)
        out["cluster_vs_inline_batched"] = round(out["cluster_2_workers"]["batched"]["img_per_s"] / out["batched"]["img_per_s"], 2)
    return out


def cluster_rows(cfg: Any, tmp: Path, n: int, device: str) -> dict[str, Any]:
    """The same pipeline on a scheduler + 2 worker processes (each GPU=1), models warm in the workers."""
    from shoemodel.curation.pipeline import executor_config
    from shoemodel.parallel import executor_from_config

    c = dataclasses.replace(cfg)
    c.executor = dataclasses.replace(c.executor, kind="local", n_workers=2, threads_per_worker=1)
    out = {}
    with executor_from_config(executor_config(c)) as ex:
        from shoemodel.curation.pipeline import pin_workers

        pin_workers(ex)
        for name, fused in (("batched", False), ("fused", True)):
            pipeline_run(c, tmp / f"cwarm-{name}", ex, fused, device)
            t, mem = pipeline_run(c, tmp / f"cluster-{name}", ex, fused, device)
            out[name] = _row(n, t, mem)
    return out


def sam2_bare(batch: int, device: str, dtype: str, n: int) -> dict[str, Any]:
    """SAM 2.1 hiera-tiny's image encoder alone on stacked 1024² batches (the segmenter has no SAM 2 path yet)."""
    import sized_models
    import torch

    from shoemodel.models.device import resolve_dtype

    dt = resolve_dtype(dtype, device)
    model = sized_models.sam2_hiera_tiny().to(device, dt)
    x = torch.randn(batch, 3, 1024, 1024, device=device, dtype=dt)
    steps = max(1, n // batch)
    with torch.inference_mode():
        model.get_image_embeddings(x)
        t, mem = timed(lambda: [model.get_image_embeddings(x) for _ in range(steps)], device)
    return _row(steps * batch, t, mem)


# ---------------------------------------------------------------- report


def markdown(res: dict[str, Any]) -> str:
    md = [f"# Curation throughput ({res['machine']}; {res['images']} photos; models: {res['models']})", "",
          f"Command: `{res['command']}`", "",
          "| stage | naive img/s | batched img/s | bare forward img/s (ceiling) | batched / naive | batched / ceiling | host ms / image | peak host MB (batched) |",
          "|---|---|---|---|---|---|---|---|"]
    for name in STAGES:
        s = res["stages"][name]
        md.append(f"| {name} | {s['naive']['img_per_s']} | {s['batched']['img_per_s']} | {s['bare_forward']['img_per_s']} | "
                  f"{s['batched_vs_naive']}x | {s['batched_vs_bare']} | {s['host_ms_per_image']} | {s['batched']['peak_host_mb']} |")
    e = res["end_to_end"]
    md += ["", "| end to end (detect+pose+segment) | img/s | vs naive | vs serial ceiling | peak host MB |", "|---|---|---|---|---|",
           f"| naive per-image loop | {e['naive']['img_per_s']} | 1x | {round(e['naive']['img_per_s'] / e['ceiling_serial_bare'], 3)} | {e['naive']['peak_host_mb']} |"]
    for name in ("batched", "fused"):
        md.append(f"| {name} (parts on disk) | {e[name]['img_per_s']} | {e[f'{name}_vs_naive']}x | {e[f'{name}_vs_ceiling']} | {e[name]['peak_host_mb']} |")
    if "cluster_2_workers" in e:
        for name in ("batched", "fused"):
            c = e["cluster_2_workers"][name]
            md.append(f"| 2-worker Dask cluster, {name} | {c['img_per_s']} | {round(c['img_per_s'] / e['naive']['img_per_s'], 2)}x | "
                      f"{round(c['img_per_s'] / e['ceiling_serial_bare'], 3)} | {c['peak_host_mb']} (driver + workers) |")
    md += ["", f"Serial ceiling = 1 / sum over the three models of 1 / (bare batched img/s) = {e['ceiling_serial_bare']} img/s "
           f"(slowest model: {e['slowest_model']}, {e['slowest_model_bare_img_per_s']} img/s)."]
    if "sam2_hiera_tiny_bare_encoder" in res:
        s2 = res["sam2_hiera_tiny_bare_encoder"]
        md.append(f"SAM 2.1 hiera-tiny image encoder alone: {s2['img_per_s']} img/s.")
    md += ["", res["note"], ""]
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=24, help="photos (fixture photos re-encoded)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="loader threads")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--real-sizes", action="store_true", help="YOLOX-s, ViTPose-H-sized, SAM ViT-B/ViT-H, SAM 2.1 hiera-tiny (a GPU)")
    ap.add_argument("--sam", default="", help="real sizes: vit_b or vit_h (default: both, one run each)")
    ap.add_argument("--no-cluster", action="store_true")
    ap.add_argument("--out", default="results", help="file stem beside this script (results -> results.json, results.md)")
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    import torch

    from shoemodel.models.device import resolve_device

    device = resolve_device(args.device)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads())
    sams = ([args.sam] if args.sam else ["vit_b", "vit_h"]) if args.real_sizes else ["tiny"]
    runs = []
    for sam_type in sams:
        tmp = Path(tempfile.mkdtemp(prefix="curation-bench-"))
        try:
            files = make_inputs(tmp / "raw", args.n)
            (tmp / "models").mkdir()
            models = build_models(tmp / "models", args.real_sizes, sam_type)
            from shoemodel.schemas.records import decode_image

            thr = calibrated_threshold(models["yolox"], decode_image(files[0].read_bytes(), "RGB"))
            cfg = config(tmp / "work", [str(tmp / "raw")], models, device, args.dtype, args.batch, args.threads, thr)
            stages = per_stage(cfg, stage_inputs(files), args.batch, device)
            e2e = end_to_end(cfg, files, tmp, stages, device, cluster=not args.no_cluster)
            runs.append((sam_type, stages, e2e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only"
    for sam_type, stages, e2e in runs:
        size = "real sizes" if args.real_sizes else "tiny"
        models_txt = (f"YOLOX-s ONNX, ViTPose-H-sized 133-pt, SAM {sam_type}" if args.real_sizes else
                      "YOLOX-nano-sized ONNX, 2-layer ViTPose 133-pt, 256-px SAM") + f", random weights, {size}"
        res = {"machine": name, "device": device, "dtype": stages["pose"]["runtime"].get("dtype"), "images": args.n, "batch": args.batch,
               "loader_threads": args.threads, "models": models_txt, "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
               "stages": stages, "end_to_end": e2e,
               "note": ("Per stage: naive = one image per model call, decoded in line; batched = the stage's rows function with batches "
                        "and the prefetching loader; bare forward = the model alone on preprocessed batches already on the device. "
                        "End to end runs the project's stage runner (parts written), ingest not timed; fused = decode once, "
                        "detect -> pose -> segment per batch. Filters opened so every image reaches every model.")}
        if args.real_sizes and sam_type == sams[-1]:
            res["sam2_hiera_tiny_bare_encoder"] = sam2_bare(args.batch, device, args.dtype, args.n)
        stem = args.out if len(runs) == 1 else f"{args.out}_{sam_type}"
        (HERE / f"{stem}.json").write_text(json.dumps(res, indent=2) + "\n")
        (HERE / f"{stem}.md").write_text(markdown(res))
        print(markdown(res))


if __name__ == "__main__":
    main()
