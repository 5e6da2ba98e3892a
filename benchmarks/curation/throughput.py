"""Curation throughput: the naive per-image loop vs the batched stages vs the fused path vs each model's bare batched
forward pass (the ceiling), per stage and end to end, in one run; plus peak memory and a 2-worker Dask cluster vs inline.

Models have random weights (throughput, not quality); every filter of every stage is opened so every image goes
through every model, and every row records the images that entered and left each model (SAM: its prompts per image,
2 feet of 1 person, the bare forward too); the run exits non-zero in one line when a row lost an image. Tiny sizes (default, CPU): YOLOX-nano-sized ONNX (dynamic batch), a 2-layer ViTPose with the 133-point
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


def timed(fn: Any, device: str) -> tuple[float, dict[str, Any], Any]:
    """Seconds for fn() (GPU work synchronised), its peak memory and what it returned."""
    import torch

    with PeakMemory(device) as mem:
        t = time.perf_counter()
        value = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
    return dt, {"peak_host_mb": mem.host_mb, **({"peak_gpu_mb": mem.gpu_mb} if mem.gpu_mb is not None else {})}, value


# ---------------------------------------------------------------- counts: every image through every model


def counts_of(out_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Images that entered one model (one output row each) and left it kept, with the others' reasons."""
    from shoemodel.curation import parts

    c = parts._counts(out_rows)
    kept = sum(c.get(parts.KEPT, {}).values())
    return {"in": len(out_rows), "out": kept, **({"dropped": c[parts.DROPPED]} if parts.DROPPED in c else {}),
            **({"failed": c[parts.FAILED]} if parts.FAILED in c else {})}


def prompts_per_image(segment_rows: list[dict[str, Any]]) -> dict[str, float]:
    """Foot prompts SAM's decoder got per image that entered segment (from each row's per-person, per-foot QC)."""
    per = []
    for r in segment_rows:
        qc = json.loads(r.get("mask_qc") or "[]")
        per.append(sum(len(person.get("feet", [])) for person in qc))
    if not per:
        return {"min": 0, "max": 0, "mean": 0.0}
    return {"min": min(per), "max": max(per), "mean": round(sum(per) / len(per), 3)}


PROMPTS_PER_IMAGE = 2  # what the pipeline sends SAM per image: one person (max_persons=1), two feet


def incomplete(res: dict[str, Any], n: int) -> list[str]:
    """Rows that did not send all n images through their model(s) (per stage: its model; end to end: all three),
    or whose SAM decoder got other than PROMPTS_PER_IMAGE prompts per image."""
    bad = []

    def check(label: str, row: dict[str, Any], names: tuple[str, ...]) -> None:
        for name in names:
            c = row.get("models", {}).get(name)
            if c is None:
                bad.append(f"{label}: no count for {name}")
            elif c["in"] != n or c["out"] != n:
                why = ", ".join(f"{k} {v}" for d in ("dropped", "failed") for k, v in c.get(d, {}).items())
                bad.append(f"{label}: {name} {c['in']} in, {c['out']} out of {n}" + (f" ({why})" if why else ""))
        pp = row.get("prompts_per_image")
        if "segment" in names and (pp is None or pp["min"] != PROMPTS_PER_IMAGE or pp["max"] != PROMPTS_PER_IMAGE):
            bad.append(f"{label}: SAM prompts per image {pp} (want {PROMPTS_PER_IMAGE})")

    for name in STAGES:
        for kind in ("naive", "batched", "bare_forward"):
            check(f"{name} {kind}", res["stages"][name][kind], (name,))
    e = res["end_to_end"]
    for kind in ("naive", "batched", "fused"):
        check(f"end to end {kind}", e[kind], STAGES)
    for kind, row in e.get("cluster_2_workers", {}).items():
        check(f"2-worker cluster {kind}", row, STAGES)
    return bad


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
    """A CurationConfig over the random models, every filter of every stage opened (every image through every model).

    Each field of IngestConfig / DetectConfig / PoseConfig / SegmentConfig that can drop a row is set so it cannot;
    `check_counts` then proves it on every row (a filter added later and not opened here fails the run).
    One person per image (max_persons=1), so SAM gets the pipeline's usual 2 feet per image.
    """
    from shoemodel.curation.config import CurationConfig

    cfg = CurationConfig(work_dir=str(work), progress=False)
    cfg.ingest.sources, cfg.ingest.part_size = sources, max(batch * 2, 8)
    cfg.ingest.near_duplicates = False  # the inputs are re-encodings of a few photos: all of them must reach the models
    cfg.ingest.min_side, cfg.ingest.max_pixels, cfg.ingest.max_bytes = 1, 10**12, 10**12
    cfg.detect = dataclasses.replace(cfg.detect, backend="yolox_onnx", weights=str(files["yolox"]), score_threshold=score_threshold,
                                     min_box_height_frac=0.0, bottom_margin_frac=0.0, min_ankle_score=-1e9,
                                     max_feet_occlusion=1e9, max_persons=1)
    cfg.pose = dataclasses.replace(cfg.pose, backend="vitpose", weights=str(files["vitpose"]), min_point_score=-1e9,
                                   min_complete_feet=0, min_leg_frac=0.0, max_leg_frac=1e9, box_slack=1e9,
                                   max_foot_frac=1e9, max_foot_calf_ratio=1e9, check_left_right=False)
    cfg.segment = dataclasses.replace(cfg.segment, backend="sam", weights=str(files["sam"]), max_box_fill=1e9,
                                      min_foot_area_ratio=0.0, min_foot_length_frac=0.0, min_thickness_ratio=0.0,
                                      max_other_foot_frac=1e9, max_above_ankle_frac=1e9, max_components=10**9,
                                      max_leg_overlap=1e9, min_feet=0, min_quality=0.0)
    for s in (cfg.detect, cfg.pose, cfg.segment):
        s.device, s.dtype, s.batch_size, s.loader_threads = device, dtype, batch, threads
    cfg.detect.device = device if device == "cpu" or _onnx_has_cuda() else "cpu"  # CPU onnxruntime: YOLOX on the CPU
    return cfg


def _onnx_has_cuda() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def calibrated_threshold(weights: Path, images: list[np.ndarray]) -> float:
    """A random detector's score threshold: the median over the inputs of each image's 99th percentile of anchor
    scores (~1% of the anchors pass, as with a real detector's NMS load), lowered where needed to the lowest image's
    best anchor, so every image keeps at least one person box."""
    from shoemodel.curation.detect_yolox import YoloxOnnxDetector

    det = YoloxOnnxDetector(weights, device="cpu")
    p99, best = [], []
    for image in images:
        x, _ = det._preprocess(image)
        out = det.session.run(None, {det.input_name: x[None]})[0][0]
        score = out[:, 4] * out[:, 5]
        p99.append(float(np.percentile(score, 99)))
        best.append(float(score.max()))
    return min(float(np.median(p99)), min(best))


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


def bare_forward(name: str, model: Any, rows: list[dict[str, Any]], batch: int, device: str,
                 section: Any = None) -> tuple[Any, int, dict[str, Any]]:
    """(a function running only the model's batched forward on inputs already preprocessed on the device, image count,
    what went in: crops or prompts per image). SAM: the image encoder on each full batch, then the prompt encoder and
    mask decoder on each image's foot prompts, as many as the pipeline sends (both feet of the row's keypoints)."""
    import torch

    from shoemodel.schemas.records import decode_image

    images = [decode_image(r["image"], "RGB") for r in rows]
    if name == "detect":
        x = np.stack([model._preprocess(im)[0] for im in images])
        chunks = [x[i: i + batch] for i in range(0, len(x), batch)]
        return (lambda: [model.session.run(None, {model.input_name: c}) for c in chunks]), len(images), {}
    if name == "pose":
        boxes = [[[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in np.asarray(r["boxes"]).reshape(-1, 5)] for r in rows]
        px = model.processor(images, boxes=boxes, return_tensors="pt")["pixel_values"].to(device, model.dtype)
        chunks = [px[i: i + batch * 2] for i in range(0, len(px), batch * 2)]  # two crops per image

        def run_pose() -> None:
            with torch.inference_mode():
                for c in chunks:
                    model.model(pixel_values=c)
        return run_pose, len(images), {"crops_per_image": round(len(px) / len(images), 3)}
    from shoemodel.curation import sam_batch
    from shoemodel.curation.prompts import foot_prompts
    from shoemodel.models.sam import point_count_groups

    prepared = [sam_batch.prepare(model.sam, images[i: i + batch], device) for i in range(0, len(images), batch)]
    for p in prepared:
        p.pixels = p.pixels.to(device, model.dtype)
    prompts = []  # per image: its feet grouped by point count (SAM is never given padded prompts), each group
    for r, im in zip(rows, images):  # (boxes, points, labels) in the model's input frame, on the device
        h, w = im.shape[:2]
        feet = foot_prompts(np.asarray(r["keypoints"], np.float32).reshape(12, 3), w, h, section.box_padding,
                            section.negative_on_calf)
        groups = []
        for idx in point_count_groups([f.points for f in feet]):
            points = np.stack([feet[i].points for i in idx]).astype(np.float32)
            labels = np.stack([feet[i].labels for i in idx])
            boxes = np.stack([feet[i].box for i in idx])
            if model.sam.source == "segment-anything":
                tr = model.sam.predictor.transform
                points = torch.as_tensor(tr.apply_coords(points, (h, w)), dtype=torch.float32, device=device)
                labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=device)
                boxes = torch.as_tensor(tr.apply_boxes(boxes.astype(np.float32), (h, w)), dtype=torch.float32,
                                        device=device)
            groups.append((boxes, points, labels))
        prompts.append(groups)
    counts = [sum(len(b) for b, _, _ in groups) for groups in prompts]

    def run_sam() -> None:
        for k, p in enumerate(prepared):
            emb = sam_batch.embed(model.sam, p, device, model.dtype)
            for j in range(len(p.original)):
                for boxes, points, labels in prompts[k * batch + j]:
                    if model.sam.source != "segment-anything":  # transformers SAM: its own predict (decoder, upsampling)
                        sam_batch.use(model.sam, p, emb, j)
                        sam_batch.predict_best(model.sam, boxes, points, labels)
                        continue
                    m = model.sam.predictor.model
                    with torch.inference_mode():
                        sparse, dense = m.prompt_encoder(points=(points, labels), boxes=boxes, masks=None)
                        m.mask_decoder(image_embeddings=emb[j: j + 1], image_pe=m.prompt_encoder.get_dense_pe(),
                                       sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                       multimask_output=True)
    pp = {"min": min(counts), "max": max(counts), "mean": round(sum(counts) / len(counts), 3)}
    return run_sam, len(images), {"prompts_per_image": pp}


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
        t_naive, m_naive, r_naive = timed(partial(st.rows, rows[name], model, naive_cfg), device)
        t_batch, m_batch, r_batch = timed(partial(st.rows, rows[name], model, section), device)
        fn, items, fed = bare_forward(name, model, rows[name], batch, device, section)
        fn()
        t_bare, m_bare, _ = timed(fn, device)
        rows_out = {"naive": _row(n, t_naive, m_naive, {name: counts_of(r_naive)}),
                    "batched": _row(n, t_batch, m_batch, {name: counts_of(r_batch)}),
                    "bare_forward": {**_row(items, t_bare, m_bare, {name: {"in": items, "out": items}}), **fed}}
        if name == "segment":
            rows_out["naive"]["prompts_per_image"] = prompts_per_image(r_naive)
            rows_out["batched"]["prompts_per_image"] = prompts_per_image(r_batch)
        out[name] = {**rows_out,
                     "batched_vs_naive": round(t_naive / t_batch, 2), "batched_vs_bare": round(t_bare / t_batch, 3),
                     "host_ms_per_image": round(1000 * (t_batch / n - t_bare / items), 2),  # work outside the forward
                     "runtime": getattr(model, "runtime", {})}
    return out


def _row(n: int, seconds: float, mem: dict[str, Any], models: dict[str, Any] | None = None) -> dict[str, Any]:
    """One timed row; `models`: per model, the images that entered it and left it kept."""
    return {"images": n, "seconds": round(seconds, 3), "img_per_s": round(n / seconds, 2), **mem,
            **({"models": models} if models is not None else {})}


# ---------------------------------------------------------------- end to end


def naive_end_to_end(cfg: Any, files: list[Path]) -> tuple[dict[str, Any], dict[str, float]]:
    """One image at a time: read, decode, detect, pose, segment (models loaded once; no part files).
    Returns per model the images that entered it and left it kept, and SAM's prompts per image."""
    from shoemodel.curation import models
    from shoemodel.curation.stage_io import decode_rgb
    from shoemodel.curation.stages import stage

    mdl = {n: models.cached(n, getattr(cfg, stage(n).config), stage(n).build_model) for n in STAGES}
    one = {n: dataclasses.replace(getattr(cfg, stage(n).config), batch_size=1, loader_threads=0) for n in STAGES}
    from shoemodel.curation.fused import _DECODED

    made: dict[str, list[dict[str, Any]]] = {n: [] for n in STAGES}
    for f in files:
        row = {"source_uri": str(f), "content_hash": f.name, "image": f.read_bytes()}
        image = decode_rgb(row["image"])
        for n in STAGES:
            res = _DECODED[n]([row], [image], mdl[n], one[n])[0]
            made[n].append(res)
            if res["status"] != "kept":
                break
            row = {**row, **{k: v for k, v in res.items() if k not in ("status", "reason")}}
    return {n: counts_of(made[n]) for n in STAGES}, prompts_per_image(made["segment"])


def pipeline_run(cfg: Any, work: Path, executor: Any, fused: bool, n: int, device: str = "cpu") -> dict[str, Any]:
    """detect, pose and segment through the project's stage runner (parts on disk), staged or fused; ingest untimed.
    The row: timing, per model the images in and kept (the stage summaries) and SAM's prompts per image (its parts)."""
    from shoemodel.curation.fused import run_fused
    from shoemodel.curation.pipeline import run_stage

    c = dataclasses.replace(cfg, work_dir=str(work), fused=fused)
    run_stage("ingest", c, work / "set", executor)
    resources = (c.gpu_resources or None) if executor is not None and hasattr(executor, "client") else None

    def go() -> dict[str, Any]:
        if fused:
            return run_fused(c, executor, resources)
        return {name: run_stage(name, c, work / "set", executor) for name in STAGES}
    t, mem, summaries = timed(go, device)
    row = _row(n, t, mem, {name: {"in": s.inputs, "out": s.kept, **({"dropped": s.dropped} if s.dropped else {}),
                                  **({"failed": s.failed} if s.failed else {})} for name, s in summaries.items()})
    row["prompts_per_image"] = prompts_per_image(_part_rows(work, "segment"))
    return row


def _part_rows(work: Path, name: str) -> list[dict[str, Any]]:
    from shoemodel.curation import parts
    from shoemodel.curation.stage_io import stage_dir

    d = stage_dir(work, name)
    return [r for i in parts.part_indices(d) for r in parts.read_part(d, i, ["status", "mask_qc"])]


def end_to_end(cfg: Any, files: list[Path], tmp: Path, stages: dict[str, Any], device: str, cluster: bool) -> dict[str, Any]:
    n = len(files)
    naive_end_to_end(cfg, files[:2])
    t_naive, m_naive, (counts, prompts) = timed(lambda: naive_end_to_end(cfg, files), device)
    out: dict[str, Any] = {"naive": {**_row(n, t_naive, m_naive, counts), "prompts_per_image": prompts}}
    for name, fused in (("batched", False), ("fused", True)):
        pipeline_run(cfg, tmp / f"warm-{name}", None, fused, n, device)
        out[name] = pipeline_run(cfg, tmp / f"e2e-{name}", None, fused, n, device)
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
            pipeline_run(c, tmp / f"cwarm-{name}", ex, fused, n, device)
            out[name] = pipeline_run(c, tmp / f"cluster-{name}", ex, fused, n, device)
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
        t, mem, _ = timed(lambda: [model.get_image_embeddings(x) for _ in range(steps)], device)
    return _row(steps * batch, t, mem)


# ---------------------------------------------------------------- report


def _io(row: dict[str, Any], names: tuple[str, ...]) -> str:
    """"24→24" for one model; "24/24/24; 2" (kept per model; SAM prompts per image) for the end-to-end rows."""
    m = row.get("models", {})
    if len(names) == 1:
        c = m.get(names[0], {})
        return f"{c.get('in', '?')}→{c.get('out', '?')}"
    kept = "/".join(str(m.get(n, {}).get("out", "?")) for n in names)
    return f"{kept}; {row.get('prompts_per_image', {}).get('mean', '?'):g}" if "prompts_per_image" in row else kept


def markdown(res: dict[str, Any]) -> str:
    md = [f"# Curation throughput ({res['machine']}; {res['images']} photos; models: {res['models']})", "",
          f"Command: `{res['command']}`", "",
          "| stage | naive img/s | batched img/s | bare forward img/s (ceiling) | batched / naive | batched / ceiling | host ms / image | peak host MB (batched) | images in → out (naive / batched / bare) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for name in STAGES:
        s = res["stages"][name]
        io = " / ".join(_io(s[k], (name,)) for k in ("naive", "batched", "bare_forward"))
        if name == "segment":
            io += f"; {s['bare_forward']['prompts_per_image']['mean']:g} prompts / image"
        md.append(f"| {name} | {s['naive']['img_per_s']} | {s['batched']['img_per_s']} | {s['bare_forward']['img_per_s']} | "
                  f"{s['batched_vs_naive']}x | {s['batched_vs_bare']} | {s['host_ms_per_image']} | {s['batched']['peak_host_mb']} | {io} |")
    e = res["end_to_end"]
    md += ["", "| end to end (detect+pose+segment) | img/s | vs naive | vs serial ceiling | peak host MB | kept by detect / pose / segment; SAM prompts / image |",
           "|---|---|---|---|---|---|",
           f"| naive per-image loop | {e['naive']['img_per_s']} | 1x | {round(e['naive']['img_per_s'] / e['ceiling_serial_bare'], 3)} | "
           f"{e['naive']['peak_host_mb']} | {_io(e['naive'], STAGES)} |"]
    for name in ("batched", "fused"):
        md.append(f"| {name} (parts on disk) | {e[name]['img_per_s']} | {e[f'{name}_vs_naive']}x | {e[f'{name}_vs_ceiling']} | "
                  f"{e[name]['peak_host_mb']} | {_io(e[name], STAGES)} |")
    if "cluster_2_workers" in e:
        for name in ("batched", "fused"):
            c = e["cluster_2_workers"][name]
            md.append(f"| 2-worker Dask cluster, {name} | {c['img_per_s']} | {round(c['img_per_s'] / e['naive']['img_per_s'], 2)}x | "
                      f"{round(c['img_per_s'] / e['ceiling_serial_bare'], 3)} | {c['peak_host_mb']} (driver + workers) | {_io(c, STAGES)} |")
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

            thr = calibrated_threshold(models["yolox"], [decode_image(f.read_bytes(), "RGB") for f in files])
            cfg = config(tmp / "work", [str(tmp / "raw")], models, device, args.dtype, args.batch, args.threads, thr)
            stages = per_stage(cfg, stage_inputs(files), args.batch, device)
            e2e = end_to_end(cfg, files, tmp, stages, device, cluster=not args.no_cluster)
            runs.append((sam_type, stages, e2e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    name = torch.cuda.get_device_name() if device.startswith("cuda") else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, CPU only"
    failures: list[str] = []
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
                        "detect -> pose -> segment per batch. Every filter of every stage is opened, and each row counts the images "
                        "that entered and left each model (the run fails when one did not reach all three; SAM gets "
                        f"{PROMPTS_PER_IMAGE} foot prompts per image in every row, the bare forward included).")}
        if args.real_sizes and sam_type == sams[-1]:
            res["sam2_hiera_tiny_bare_encoder"] = sam2_bare(args.batch, device, args.dtype, args.n)
        stem = args.out if len(runs) == 1 else f"{args.out}_{sam_type}"
        bad = incomplete(res, args.n)
        res["every_image_through_every_model"] = not bad
        if bad:
            res["incomplete_rows"] = bad
        (HERE / f"{stem}.json").write_text(json.dumps(res, indent=2) + "\n")
        (HERE / f"{stem}.md").write_text(markdown(res))
        print(markdown(res))
        failures += [f"{stem}: {b}" for b in bad]
    if failures:
        more = f"; ... {len(failures) - 3} more" if len(failures) > 3 else ""
        raise SystemExit(f"throughput: {len(failures)} rows did not send all {args.n} images through every model "
                         f"(incomplete_rows in the results JSON): " + "; ".join(failures[:3]) + more)


if __name__ == "__main__":
    main()
