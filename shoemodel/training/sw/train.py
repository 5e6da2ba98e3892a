"""Train the ShoeControlNet (paper §3.3, Eq. 2) on the shared training engine.

Only the ControlNet learns; the SD 1.5 UNet, VAE and text encoder are frozen modules the engine moves
to the device once and never saves. Resume, accumulation, mixed precision, multi-GPU, the loss CSV and
train.json come from the engine (`shoemodel.training.engine`); this module wires SW's parts into it and
writes the folder `SWGenerator.from_pretrained` loads: `controlnet/` and `sw.json`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from shoemodel.models.runtime import prepare_imports
from shoemodel.models.sw.base import load_base_model, make_controlnet
from shoemodel.models.sw.generator import META_FILE
from shoemodel.store.atomic import write_json
from shoemodel.training.engine import adamw, train_loop
from shoemodel.training.sw.config import SWConfig
from shoemodel.training.sw.data import collate, load_dataset
from shoemodel.training.sw.loss import make_loss
from shoemodel.training.sw.validation import make_validate


def resolve_base(cfg: SWConfig) -> tuple[str, bool]:
    """The base model path and whether it is the tiny one; "tiny" builds (once) a random base under output_dir/tiny_base."""
    if cfg.base_model != "tiny":
        return cfg.base_model, False
    from shoemodel.models.sw.tiny import make_tiny_base_model

    folder = Path(cfg.output_dir) / "tiny_base"
    if not (folder / "model_index.json").exists():
        make_tiny_base_model(folder, resolution=cfg.resolution, seed=cfg.seed)
    return str(folder), True


def make_optimizer(params: list[torch.nn.Parameter], cfg: SWConfig) -> torch.optim.Optimizer:
    """AdamW, or bitsandbytes' 8-bit AdamW with `use_8bit_adam` (the ControlNet's optimiser state at a quarter the memory)."""
    if not cfg.use_8bit_adam:
        return adamw(params, cfg)
    try:
        import bitsandbytes as bnb
    except ImportError as exc:
        raise ImportError("use_8bit_adam needs bitsandbytes (pip install bitsandbytes, GPU only)") from exc
    return bnb.optim.AdamW8bit(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)


def write_sw_folder(controlnet: Any, cfg: SWConfig, base_path: str, tiny: bool, summary: dict[str, Any]) -> Path:
    """`<output_dir>/controlnet/` (diffusers format) and sw.json; the tiny base is named relative to the folder so it can move."""
    out = Path(cfg.output_dir)
    controlnet.save_pretrained(out / "controlnet")
    loss = summary["final_loss"]
    write_json(out / META_FILE, {
        "base_model": str(Path(base_path).relative_to(out)) if tiny else base_path,
        "base_config": cfg.base_config or None, "resolution": cfg.resolution, "steps": summary["steps"],
        "tiny_random_base": tiny, "final_loss": loss if math.isfinite(loss) else None,
        "train_seconds": summary["seconds"], "train_config": dataclasses.asdict(cfg)})
    return out


def train_sw(cfg: SWConfig, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train (or resume) the ShoeControlNet; writes `<output_dir>` (controlnet/ + sw.json) and returns the engine's summary."""
    prepare_imports()
    from accelerate import PartialState

    torch.manual_seed(cfg.seed)
    with PartialState().main_process_first():  # the main process writes the tiny base, the others then read it
        base_path, tiny = resolve_base(cfg)
    base = load_base_model(base_path, cfg.base_config or None)
    controlnet = make_controlnet(base, cfg.controlnet_init or None)
    if cfg.gradient_checkpointing:
        controlnet.enable_gradient_checkpointing()
    dataset = load_dataset(cfg.train_set, cfg.resolution, max_records=cfg.max_records, flip=cfg.random_flip,
                           template=cfg.caption_template)
    final, summary = train_loop(
        cfg, controlnet, dataset, collate, make_loss(base, cfg.empty_prompt_prob), [],
        frozen=(base.unet, base.vae, base.text_encoder), make_optimizer=partial(make_optimizer, cfg=cfg),
        validate=make_validate(cfg, base) if cfg.num_validation_images > 0 else None)
    if summary["is_main_process"]:  # one writer when several GPUs train
        out = write_sw_folder(final, cfg, base_path, tiny, summary)
        if log is not None:
            log(f"SW: steps {summary['resumed_from']}..{summary['steps']} in {summary['seconds']} s; saved {out}")
    return summary
