"""`shoemodel generate`: check the inputs, load the models named by path, run the pipeline, write the results.

Everything that can be wrong with the user's files is found before a model loads (photo, masks, "no shoe
in the photo"), so a mistake costs a second, not a model load, and reads as one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.pipelines.config import GenerateConfig
from shoemodel.pipelines.foreground import load_mask, mask_box, remove_studio_background, sam_mask
from shoemodel.pipelines.generate import GenerateOptions, NoShoeError, ShoeModelPipeline, resize_classes
from shoemodel.pipelines.layout import ShoeLayout
from shoemodel.pipelines.outputs import save_result
from shoemodel.pipelines.photo_input import InputError, Photo, load_photo, load_user_mask, working_copy
from shoemodel.schemas.classes import NUM_CLASSES, VISIBLE


@dataclass
class Inputs:
    """The checked inputs of one run: the photo, the output size, and the shoe's area at the working size."""

    photo: Photo
    out_size: tuple[int, int]
    work: np.ndarray
    foreground: np.ndarray  # bool at the working size
    foreground_from: str
    classes: np.ndarray | None  # user classes at the working size
    notes: list[str]


def output_size(photo: Photo, size: int | None, max_side: int) -> tuple[tuple[int, int], list[str]]:
    """(w, h) of the output canvas and what to tell the user about it."""
    w, h = photo.size
    ow, oh = photo.original_size
    notes = []
    if photo.capped:
        notes.append(f"the photo is {ow}x{oh}, larger than generate.max_side={max_side}: read at {w}x{h} "
                     "(the pasted shoe pixels are resampled from the original)")
    if size is None:
        return (w, h), notes
    if size > max_side:
        notes.append(f"generate.size={size} is above generate.max_side={max_side}: output capped at {max_side}")
        size = max_side
    s = size / max(w, h)
    out = (max(8, round(w * s)), max(8, round(h * s)))
    if out != (w, h):
        notes.append(f"output {out[0]}x{out[1]} by generate.size={size}: the pasted shoe pixels are the photo's, resampled")
    return out, notes


def prepare_inputs(shoe: str | Path, cfg: GenerateConfig, mask: str | Path | None = None,
                   area_mask: str | Path | None = None) -> Inputs:
    """Read and check everything the user gave (no model is loaded); InputError / NoShoeError on a bad input."""
    for key in ("max_side", "work_side", "max_pixels"):
        if getattr(cfg, key) < 8:
            raise InputError(f"generate.{key} must be at least 8, got {getattr(cfg, key)}")
    if cfg.size is not None and cfg.size < 8:
        raise InputError(f"generate.size must be at least 8 px, got {cfg.size}")
    photo = load_photo(shoe, cfg.max_side, cfg.max_pixels)
    out_size, notes = output_size(photo, cfg.size, cfg.max_side)
    work = working_copy(photo.rgb, cfg.work_side)
    wsize = (work.shape[1], work.shape[0])
    if photo.transposed:
        notes.append(f"EXIF orientation applied: the upright photo is {photo.size[0]}x{photo.size[1]}")
    classes = None
    if area_mask is not None:
        classes = load_user_mask(area_mask, wsize, "class mask (--area-mask)")
        if int(classes.max()) >= NUM_CLASSES:
            raise InputError(f"class mask (--area-mask) {area_mask} holds value {int(classes.max())}; "
                             "classes are 0 background, 1 visible, 2 wearable")
    if mask is not None:
        fg, source = load_user_mask(mask, wsize, "mask (--mask)") > 0, "given mask"
    elif classes is not None:
        fg, source = classes > 0, "class mask"
    elif photo.alpha is not None:
        fg, source = resize_classes(photo.alpha.astype(np.uint8), wsize) > 0, "alpha channel"
    else:
        fg, source = remove_studio_background(work), "studio background removal"
    if classes is not None and mask is not None:
        classes = np.where(fg, classes, 0).astype(np.uint8)
    if not fg.any():
        raise NoShoeError(f"no shoe found in {shoe}: the {source} leaves no foreground"
                          + (" (give --mask)" if source == "studio background removal" else ""))
    if classes is not None and not (classes == VISIBLE).any():
        raise NoShoeError(f"no visible shoe area in {area_mask} (class 1)")
    return Inputs(photo=photo, out_size=out_size, work=work, foreground=fg, foreground_from=source, classes=classes,
                  notes=notes)


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

        wd = WDPredictor.from_checkpoint(require_weights(cfg.wd, "WD checkpoint"), cfg.device)
    foot, legs = load_lps(cfg.lps_keypoints, cfg.lps_diffusion)
    return ShoeModelPipeline(sw, wd, foot, legs)


def run_generate(shoe: str | Path, prompt: str, out_dir: str | Path, cfg: GenerateConfig,
                 mask: str | Path | None = None, area_mask: str | Path | None = None,
                 pipeline: ShoeModelPipeline | None = None) -> dict[str, Any]:
    """Generate cfg.n images for one shoe photo; `mask` = foreground (non-zero), `area_mask` = classes 0/1/2."""
    from shoemodel.models.runtime import set_torch_threads
    from shoemodel.pipelines.model_info import pipeline_models

    inputs = prepare_inputs(shoe, cfg, mask, area_mask)  # before any model loads
    set_torch_threads(cfg.cpu_threads)
    pipe = pipeline or build_pipeline(cfg)
    fg, source = inputs.foreground, inputs.foreground_from
    if cfg.sam_checkpoint and mask is None and inputs.photo.alpha is None:
        box = mask_box(fg) or (0, 0, inputs.work.shape[1], inputs.work.shape[0])
        fg, source = sam_mask(inputs.work, cfg.sam_checkpoint, box, cfg.sam_model_type or None), "SAM"
    classes = inputs.classes
    if classes is None and pipe.wd is None:
        classes = np.where(fg, VISIBLE, 0).astype(np.uint8)
    # WD trained on photos reads the photo as given; the foreground then only cuts it when the user gave one.
    cut = fg if (mask is not None or inputs.photo.alpha is not None or classes is not None
                 or getattr(pipe.wd, "reads", "shoe_on_black") != "photo") else None
    opts = GenerateOptions(n=cfg.n, seed=cfg.seed, steps=cfg.steps, guidance=cfg.guidance,
                           negative_prompt=cfg.negative_prompt, layout=ShoeLayout(**cfg.layout), size=inputs.out_size)
    result = pipe(inputs.photo.rgb, prompt, foreground=cut, classes=classes, options=opts, work_rgb=inputs.work)
    models = pipeline_models(cfg, pipe, source)
    p = inputs.photo
    info = {"shoe": str(shoe), "prompt": prompt, "n": cfg.n, "seed": cfg.seed, "steps": cfg.steps,
            "guidance": cfg.guidance, "layout": dict(cfg.layout), "sw": cfg.sw, "wd": cfg.wd,
            "foreground": source, "output_size": list(inputs.out_size), "sw_size": list(result.sw_size or ()),
            "shoe_pixels_exact": result.exact,
            "photo": {"size": list(p.original_size), "read_at": list(p.size), "exif_transposed": p.transposed,
                      "capped": p.capped, "alpha": p.alpha is not None},
            "notes": inputs.notes, "models": models, "confidence": result.confidence,
            "sw_meta": getattr(pipe.sw, "meta", {})}
    return save_result(result, p.rgb, out_dir, Path(shoe).stem, info)


__all__ = ["GenerateConfig", "Inputs", "prepare_inputs", "output_size", "load_lps", "build_pipeline", "run_generate",
           "load_mask", "InputError", "NoShoeError"]
