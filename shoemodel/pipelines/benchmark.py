"""The Table 3 harness: the same shoes and prompts through ShoeModel and every baseline whose weights exist.

Writes one Markdown table in Table 3's layout (FID, KID×1k, CLIP score, Specified-Shoe) plus the
shoe-identity columns, a JSON with all numbers, and the generated images. Rows whose weights are absent
read "weights not available: <path>". The table's header says at what scale it was run and with which
feature extractors, so a sample-scale run is never mistaken for the paper's numbers.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shoemodel.metrics_io import write_metrics
from shoemodel.pipelines.baselines import SPECIFIED_SHOE, ShoeCondition, missing
from shoemodel.pipelines.config import BenchmarkConfig
from shoemodel.pipelines.identity import identity_metrics
from shoemodel.pipelines.paste import paste_back


def load_shoes(cfg: BenchmarkConfig) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(name, photo, class mask or None) for up to max_shoes shoes of the split."""
    from shoemodel.pipelines.outputs import read_rgb

    src = Path(cfg.shoes)
    out: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    if src.is_dir():
        for p in sorted(itertools.chain(src.glob("*.png"), src.glob("*.jpg")))[: cfg.max_shoes]:
            out.append((p.stem, read_rgb(p), None))
        return out
    for line in src.read_text().splitlines():
        rec = json.loads(line)
        if cfg.split and rec.get("split") != cfg.split:
            continue
        mask = None
        if rec.get("area_mask"):
            with Image.open(src.parent / rec["area_mask"]) as im:
                mask = np.asarray(im.convert("L"))
        out.append((rec.get("id", Path(rec["image"]).stem), read_rgb(src.parent / rec["image"]), mask))
        if len(out) >= cfg.max_shoes:
            break
    return out


def load_real(cfg: BenchmarkConfig, size: int) -> list[np.ndarray]:
    """Reference photos of worn shoes, resized (centre crop) to the canvas size."""
    from shoemodel.schemas.records import decode_image
    from shoemodel.store import iter_records

    out = []
    for rec in itertools.islice(iter_records(cfg.real, ["image"], split=cfg.real_split), cfg.max_real):
        im = Image.fromarray(decode_image(rec["image"], "RGB"))
        s = min(im.size)
        im = im.crop(((im.width - s) // 2, (im.height - s) // 2, (im.width + s) // 2, (im.height + s) // 2))
        out.append(np.asarray(im.resize((size, size), Image.BICUBIC)))
    return out


def _feature_extractor(cfg: BenchmarkConfig) -> tuple[Any, str]:
    from shoemodel.pipelines.image_metrics import TinyFeatureExtractor, inception_extractor

    if cfg.features == "tiny-random":
        return TinyFeatureExtractor(), "tiny random conv features (smoke scale; NOT comparable to Inception FID/KID)"
    if cfg.features == "inception":
        return inception_extractor(cfg.inception_weights), f"Inception v3 ({cfg.inception_weights})"
    raise ValueError(f"benchmark.features: unknown '{cfg.features}' (inception | tiny-random)")


def _clip(cfg: BenchmarkConfig, out: Path) -> tuple[Any, str]:
    from shoemodel.pipelines.image_metrics import clip_from_path, tiny_clip

    if cfg.clip == "tiny-random":
        return tiny_clip(out / "tiny_clip"), "tiny random CLIP (smoke scale; NOT comparable)"
    return clip_from_path(cfg.clip), f"CLIP ({cfg.clip})"


def _weights_for(cfg: BenchmarkConfig, method: str) -> list[str]:
    return {"SD1.5": [cfg.sd15], "SDXL": [cfg.sdxl], "SD1.5-inpaint": [cfg.sd15_inpaint],
            "ControlNet-inpaint": [cfg.sd15, cfg.controlnet_inpaint], "Paint-by-Example": [cfg.paint_by_example],
            "ShoeModel (ours)": [cfg.sw, cfg.lps_keypoints, cfg.lps_diffusion] + ([cfg.wd] if cfg.use_wd else [])}[method]


def make_runner(cfg: BenchmarkConfig, method: str, shoemodel_pipeline: Any = None) -> Any:
    """A (shoe, prompt, n, seed) -> (raw images, pasted images or None) function for one Table 3 row."""
    from shoemodel.pipelines import baselines as B

    s, g, d = cfg.steps, cfg.guidance, cfg.device
    if method == "ShoeModel (ours)":
        pipe = shoemodel_pipeline

        def run_ours(shoe: ShoeCondition, prompt: str, n: int, seed: int) -> tuple[list, list]:
            h, w = shoe.x_w.shape[:2]
            foot8 = np.asarray(pipe.foot.predict(shoe.x_w), np.float32)
            kpts = np.asarray(pipe.legs.sample(foot8, (w, h), n, seed), np.float32)
            poses = [pipe.render_pose(k, (w, h)) for k in kpts]
            raw = pipe.sw.generate(shoe.x_w, poses, prompt, steps=s, guidance=g, seed=seed)
            return raw, [paste_back(r, shoe.x_w, shoe.visible) for r in raw]
        return run_ours
    factory = {"SD1.5": lambda: B.sd15_runner(cfg.sd15, s, g, d), "SDXL": lambda: B.sdxl_runner(cfg.sdxl, s, g, d),
               "SD1.5-inpaint": lambda: B.sd15_inpaint_runner(cfg.sd15_inpaint, s, g, d),
               "ControlNet-inpaint": lambda: B.controlnet_inpaint_runner(cfg.sd15, cfg.controlnet_inpaint, s, g, d),
               "Paint-by-Example": lambda: B.paint_by_example_runner(cfg.paint_by_example, s, g, d)}[method]
    runner = factory()
    return lambda shoe, prompt, n, seed: (runner(shoe, prompt, n, seed), None)


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "inf (exact)"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def format_table(rows: list[dict[str, Any]], header: str) -> str:
    """Markdown in Table 3's column order, then the shoe-identity columns."""
    cols = ["Method", "FID ↓", "KID×1k ↓", "CLIP score ↑", "Specified-Shoe", "Shoe PSNR before paste ↑",
            "Shoe SSIM before paste ↑", "Shoe PSNR after paste", "Seam ratio (1 = seamless)"]
    lines = [header, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['method']} | {r['status']} |" + " |" * (len(cols) - 2))
            continue
        m = r["metrics"]
        lines.append("| " + " | ".join([
            r["method"], _fmt(m.get("fid")), _fmt(m.get("kid_x1k")), _fmt(m.get("clip_score")), SPECIFIED_SHOE[r["method"]],
            _fmt(m.get("shoe_psnr_raw")), _fmt(m.get("shoe_ssim_raw"), 3), _fmt(m.get("shoe_psnr_pasted")),
            _fmt(m.get("seam_ratio"))]) + " |")
    return "\n".join(lines) + "\n"


def _mean(values: list[float]) -> float | None:
    """Mean of the finite values; inf when every value is inf (exact paste-back); None when there are none."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    finite = [v for v in vals if not math.isinf(v)]
    if finite:
        return float(np.mean(finite))
    return math.inf if vals else None


def run_benchmark(cfg: BenchmarkConfig, shoemodel_pipeline: Any = None) -> str:
    """Run every method of cfg.methods on the same shoes/prompts; write table, JSON and images; return the table."""
    from shoemodel.models.runtime import set_torch_threads
    from shoemodel.pipelines.generate import GenerateOptions
    from shoemodel.pipelines.image_metrics import clip_score, fid_kid
    from shoemodel.pipelines.layout import ShoeLayout

    set_torch_threads(cfg.cpu_threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    shoes = load_shoes(cfg)
    if not shoes:
        raise ValueError(f"no shoes in {cfg.shoes} (split '{cfg.split}')")
    gone = missing(_weights_for(cfg, "ShoeModel (ours)"))
    pipe = shoemodel_pipeline
    if pipe is None and gone is None:
        from shoemodel.pipelines.config import GenerateConfig
        from shoemodel.pipelines.run_generate import build_pipeline

        pipe = build_pipeline(GenerateConfig(sw=cfg.sw, wd=cfg.wd if cfg.use_wd else None, lps_keypoints=cfg.lps_keypoints,
                                             lps_diffusion=cfg.lps_diffusion, device=cfg.device))
    if pipe is None:
        raise FileNotFoundError(f"ShoeModel weights not available: {gone} (train SW / LpS first); the shoe conditions need them")
    size = cfg.resolution or pipe.sw.resolution
    opts = GenerateOptions(resolution=size, layout=ShoeLayout())
    conditions: list[tuple[str, ShoeCondition]] = []
    skipped: list[str] = []
    for name, rgb, mask in shoes:
        from shoemodel.pipelines.foreground import remove_studio_background

        fg = mask > 0 if mask is not None else remove_studio_background(rgb)
        if cfg.use_wd and pipe.wd is not None:
            classes = None  # WD predicts them, as in the full system
        elif mask is not None:
            classes = mask  # ground truth: isolates SW from WD errors
        else:
            classes = fg.astype(np.uint8)  # no WD, no labels: the whole foreground counts as visible
        canvas, placed, x_w, visible = pipe.conditions(rgb, fg, classes, opts)
        if not visible.any():  # WD saw no visible area: nothing to condition on, counted in the header
            skipped.append(name)
            continue
        conditions.append((name, ShoeCondition(canvas, x_w, visible, placed)))
    if not conditions:
        raise ValueError(f"no shoe with a visible area among {len(shoes)} (WD predicted none)")
    real = load_real(cfg, size)
    extractor, feat_desc = _feature_extractor(cfg)
    clip_mp, clip_desc = _clip(cfg, out)

    rows: list[dict[str, Any]] = []
    for method in cfg.methods:
        gone = missing(_weights_for(cfg, method))
        if gone is not None and not (method == "ShoeModel (ours)" and shoemodel_pipeline is not None):
            rows.append({"method": method, "status": f"weights not available: {gone}"})
            continue
        run = make_runner(cfg, method, pipe)
        images, prompts, ident = [], [], []
        folder = out / "images" / method.split(" ")[0]
        folder.mkdir(parents=True, exist_ok=True)
        for k, (name, shoe) in enumerate(conditions):
            prompt = cfg.prompts[k % len(cfg.prompts)]
            raw, pasted = run(shoe, prompt, cfg.n_per_shoe, cfg.seed + 1000 * k)
            finals = pasted if pasted is not None else raw
            for i, (r, f) in enumerate(zip(raw, finals, strict=True)):
                Image.fromarray(f).save(folder / f"{name}_{i:02d}.png")
                m = identity_metrics(r, f, shoe.x_w, shoe.visible)
                if pasted is None:  # no paste-back: the "after" columns do not apply
                    m = {"shoe_psnr_raw": m["shoe_psnr_raw"], "shoe_ssim_raw": m["shoe_ssim_raw"]}
                ident.append(m)
            images += finals
            prompts += [prompt] * len(finals)
        metrics: dict[str, Any] = fid_kid(real, images, extractor, cfg.kid_subset_size)
        metrics["clip_score"] = clip_score(images, prompts, clip_mp)
        for key in ("shoe_psnr_raw", "shoe_ssim_raw", "shoe_psnr_pasted", "seam_ratio"):
            metrics[key] = _mean([m[key] for m in ident if key in m])
        rows.append({"method": method, "status": "ok", "metrics": metrics})

    sw_meta = getattr(pipe.sw, "meta", {})
    scale = (f"Scale: {len(conditions)} shoes × {cfg.n_per_shoe} images at {size}×{size} px, {cfg.steps} DDIM steps, "
             f"CFG {cfg.guidance}; {len(skipped)} shoe(s) skipped (no visible area); reference set: {len(real)} photos from {cfg.real} ({cfg.real_split}). "
             f"Features: {feat_desc}. CLIP: {clip_desc}.")
    if sw_meta.get("tiny_random_base"):
        scale += (f" SW: tiny random-initialised base model, ControlNet trained {sw_meta.get('steps')} steps on the "
                  "synthetic sample — a plumbing check, not a result.")
    header = "### Table 3 (reproduction harness)\n\n" + scale
    table = format_table(rows, header)
    (out / "table3.md").write_text(table)
    numbers = {"shoes": len(conditions), "images_per_shoe": cfg.n_per_shoe, "resolution": size, "steps": cfg.steps,
               "guidance": cfg.guidance, "skipped_shoes": len(skipped), "reference_photos": len(real),
               "methods": {r["method"]: r["metrics"] for r in rows if r["status"] == "ok"}}
    # numbers for `dvc metrics`; the scale sentence, the config and each method's status beside the table
    write_metrics(cfg.metrics, numbers, {"scale": scale, "config": asdict(cfg), "rows": rows}, out / "info.json")
    return table
