"""SW validation grids during training: X_w | X_p | generated image for a few held-out records."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from shoemodel.models.sw.base import BaseModel
from shoemodel.training.engine import ValidateFn
from shoemodel.training.sw.config import SWConfig
from shoemodel.training.sw.data import COLUMNS, make_example

Condition = tuple[np.ndarray, np.ndarray, str]


def validation_conditions(root: str | Path, resolution: int, n: int, template: str) -> list[Condition]:
    """(X_w, X_p, prompt) of the first n val records (train records if the set has no val split); no flip, fixed crop."""
    from shoemodel.store import iter_records

    out: list[Condition] = []
    for split in ("val", "train"):
        for rec in itertools.islice(iter_records(root, COLUMNS, split=split), n):
            ex = make_example(rec, resolution, random.Random(0), False, template)
            out.append((ex.x_w, ex.x_p, ex.prompt))
        if out:
            break
    return out


def save_validation_images(pipe: Any, conditions: list[Condition], path: Path, steps: int, seed: int) -> Path:
    """One row per condition: X_w, X_p, generated image; written as a PNG for a quick look during training."""
    from PIL import Image

    from shoemodel.models.sw.generator import SWGenerator

    gen = SWGenerator(pipe, conditions[0][0].shape[0])
    rows = [np.concatenate([x_w, x_p, gen.generate(x_w, [x_p], prompt, steps=steps, seed=seed)[0]], axis=1)
            for x_w, x_p, prompt in conditions]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path


def eager_view(module: torch.nn.Module) -> torch.nn.Module:
    """The module sharing its weights but calling its plain forward: validation samples at other batch sizes
    than training, and a compiled UNet (`Module.compile`) would recompile for them, possibly in another thread."""
    if getattr(module, "_compiled_call_impl", None) is None:
        return module
    view = copy.copy(module)  # shallow: the same parameters and submodules
    view._compiled_call_impl = None
    return view


def make_validate(cfg: SWConfig, base: BaseModel) -> ValidateFn:
    """The engine's validation callback: `<output_dir>/validation/step-NNNNNNN.png` with the current ControlNet.

    The records are read on the first call, so only the main process (the one that validates) reads them.
    """
    from shoemodel.models.sw.generator import diffusers_pipeline

    conditions: list[Condition] = []

    def validate(controlnet: torch.nn.Module, step: int) -> None:
        if not conditions:
            conditions.extend(validation_conditions(cfg.train_set, cfg.resolution, cfg.num_validation_images,
                                                    cfg.caption_template))
        if not conditions:
            return
        dtype = next(base.unet.parameters()).dtype
        # Under mixed precision on a GPU the frozen parts are fp16/bf16 and the ControlNet fp32: sample with a
        # cast copy (autocast would change what validation measures).
        net = controlnet if next(controlnet.parameters()).dtype == dtype else copy.deepcopy(controlnet).to(dtype=dtype)
        pipe = diffusers_pipeline(dataclasses.replace(base, unet=eager_view(base.unet)), eager_view(net))
        pipe.set_progress_bar_config(disable=True)
        save_validation_images(pipe, conditions, Path(cfg.output_dir) / "validation" / f"step-{step:07d}.png",
                               cfg.validation_inference_steps, cfg.seed)

    return validate
