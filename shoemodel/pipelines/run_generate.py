"""`shoemodel generate`: load the models named by path, run the pipeline on one shoe photo, write the results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.config import ParamPath
from shoemodel.pipelines.foreground import foreground_mask, load_mask
from shoemodel.pipelines.generate import GenerateOptions, ShoeModelPipeline
from shoemodel.pipelines.layout import ShoeLayout
from shoemodel.pipelines.outputs import read_rgb, save_result
from shoemodel.schemas.classes import VISIBLE


@dataclass
class GenerateConfig:
    """params.yaml section `generate` (the CLI flags override it)."""

    sw: ParamPath = "models/sw"
    wd: ParamPath | None = "models/wd"  # None: no wearable-area detection, the whole foreground counts as visible
    lps_keypoints: ParamPath = "models/lps_keypoints"
    lps_diffusion: ParamPath = "models/lps_diffusion"
    sam_checkpoint: ParamPath | None = None
    sam_model_type: str = ""  # vit_b / vit_l / vit_h; empty: read from the file name or the checkpoint
    n: int = 4
    seed: int = 0
    steps: int = 50
    guidance: float = 7.0
    negative_prompt: str | None = None
    resolution: int | None = None
    layout: dict[str, float] = field(default_factory=dict)  # scale / rotate / tx / ty
    device: str = "cpu"
    cpu_threads: int = 0  # >0: torch threads on CPU (the training key of the same name); 0: torch's default
    out: ParamPath = "reports/generate"  # output folder (`shoemodel generate --out`)


def load_lps(foot: str | Path, legs: str | Path) -> tuple[Any, Any]:
    """LpS phase 1 and phase 2 predictors from their checkpoints."""
    from shoemodel.models.lps_diffusion import LegPoseSampler
    from shoemodel.models.lps_keypoints import FootKeypointPredictor
    from shoemodel.models.weights import require_weights

    return (FootKeypointPredictor.from_checkpoint(require_weights(foot, "LpS phase-1 checkpoint")),
            LegPoseSampler.from_checkpoint(require_weights(legs, "LpS phase-2 checkpoint")))


def build_pipeline(cfg: GenerateConfig) -> ShoeModelPipeline:
    """The pipeline from checkpoint paths (clear errors naming any missing one)."""
    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.models.weights import require_weights

    sw = SWGenerator.from_pretrained(cfg.sw, cfg.device)
    wd = None
    if cfg.wd:
        from shoemodel.models.wd import WDPredictor

        wd = WDPredictor.from_checkpoint(require_weights(cfg.wd, "WD checkpoint"))
    foot, legs = load_lps(cfg.lps_keypoints, cfg.lps_diffusion)
    return ShoeModelPipeline(sw, wd, foot, legs)


def run_generate(shoe: str | Path, prompt: str, out_dir: str | Path, cfg: GenerateConfig,
                 mask: str | Path | None = None, area_mask: str | Path | None = None,
                 pipeline: ShoeModelPipeline | None = None) -> dict[str, Any]:
    """Generate cfg.n images for one shoe photo; `mask` = foreground (0/255), `area_mask` = classes 0/1/2."""
    from shoemodel.models.runtime import set_torch_threads

    set_torch_threads(cfg.cpu_threads)
    rgb = read_rgb(shoe)
    h, w = rgb.shape[:2]
    pipe = pipeline or build_pipeline(cfg)
    fg = foreground_mask(rgb, mask, cfg.sam_checkpoint, cfg.sam_model_type)
    classes = None
    if area_mask is not None:
        from PIL import Image

        with Image.open(area_mask) as im:
            classes = np.asarray(im.convert("L").resize((w, h), Image.NEAREST))
        fg = fg & (classes > 0) if mask is not None else classes > 0
    elif pipe.wd is None:
        classes = np.where(fg, VISIBLE, 0).astype(np.uint8)
    opts = GenerateOptions(n=cfg.n, seed=cfg.seed, steps=cfg.steps, guidance=cfg.guidance,
                           negative_prompt=cfg.negative_prompt, layout=ShoeLayout(**cfg.layout), resolution=cfg.resolution)
    result = pipe(rgb, prompt, foreground=fg, classes=classes, options=opts)
    info = {"shoe": str(shoe), "prompt": prompt, "n": cfg.n, "seed": cfg.seed, "steps": cfg.steps,
            "guidance": cfg.guidance, "layout": dict(cfg.layout), "sw": cfg.sw, "wd": cfg.wd,
            "foreground": "given mask" if mask else ("SAM" if cfg.sam_checkpoint else "studio background removal"),
            "sw_meta": getattr(pipe.sw, "meta", {})}
    return save_result(result, rgb, out_dir, Path(shoe).stem, info)


__all__ = ["GenerateConfig", "load_lps", "build_pipeline", "run_generate", "load_mask"]
