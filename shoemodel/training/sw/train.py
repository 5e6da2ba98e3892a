"""Train the ShoeControlNet (paper §3.3, Eq. 2) on the shared training engine.

Only the ControlNet learns; the SD 1.5 UNet, VAE and text encoder are frozen modules the engine moves
to the device once and never saves. With `latent_cache` set, the photos' VAE latents and the prompts'
text embeddings come from the cache (built here when absent or stale), so the loop runs only the ControlNet
and the UNet; SDPA attention, channels_last and torch.compile apply on a GPU (see `speed_up`). Resume, accumulation, mixed precision, multi-GPU, the loss CSV and
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

from shoemodel.models.device import resolve_device
from shoemodel.models.runtime import prepare_imports
from shoemodel.models.sw.base import load_base_model, make_controlnet
from shoemodel.models.sw.generator import META_FILE
from shoemodel.store.atomic import write_json
from shoemodel.training.engine import adamw, train_loop
from shoemodel.training.sw.config import SWConfig
from shoemodel.training.sw.data import collate, load_dataset
from shoemodel.training.sw.loss import make_loss
from shoemodel.training.sw.validation import make_validate


def resolve_base(cfg: SWConfig, folder: Path | None = None) -> tuple[str, bool]:
    """The base model path and whether it is the tiny one; "tiny" builds (once) a random base under
    `folder` (default output_dir/tiny_base), the same bytes wherever it is built (seeded)."""
    if cfg.base_model != "tiny":
        return cfg.base_model, False
    from shoemodel.models.sw.tiny import make_tiny_base_model

    folder = Path(cfg.output_dir) / "tiny_base" if folder is None else folder
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


def set_attention(modules: tuple[Any, ...], attention: str) -> None:
    """"sdpa": torch's scaled_dot_product_attention (flash / memory-efficient kernels on a GPU); "eager": matmul + softmax."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    if attention not in ("sdpa", "eager"):
        raise ValueError(f"attention '{attention}': use 'sdpa' or 'eager'")
    for m in modules:
        m.set_attn_processor(AttnProcessor2_0() if attention == "sdpa" else AttnProcessor())


def speed_up(cfg: SWConfig, unet: Any, controlnet: Any) -> Callable[[torch.device, str], None]:
    """The engine's `on_device` hook: channels_last and torch.compile of the UNet + ControlNet on a GPU.

    Both stay off on CPU: channels_last gains nothing there and inductor's CPU compile costs minutes at start-up.
    `Module.compile` compiles in place, so state dicts, saving and the optimiser see the plain modules.
    """

    def hook(device: torch.device, mixed_precision: str) -> None:
        if device.type != "cuda":
            return
        for m in (unet, controlnet):
            if cfg.channels_last:
                m.to(memory_format=torch.channels_last)
            if cfg.compile:
                m.compile()

    return hook


def prepare_cache(cfg: SWConfig, base: Any, base_path: str, log: Callable[[str], None] | None = None) -> Any:
    """The latent cache of this run (built first when absent or stale), or None when `latent_cache` is ""."""
    if not cfg.latent_cache:
        return None
    from accelerate import PartialState

    from shoemodel.training.sw.cache import LatentCache, build_cache, cache_key, is_fresh

    with PartialState().main_process_first():  # the main process builds; the others find it fresh afterwards
        if not is_fresh(cfg.latent_cache, cache_key(cfg, base_path)):
            if log is not None:
                log(f"SW: latent cache {cfg.latent_cache} is missing or stale; building it")
            build_cache(cfg, base, base_path, cfg.latent_cache, device=resolve_device(), log=log)
            for m in (base.vae, base.text_encoder):
                m.to("cpu")
    return LatentCache.load(cfg.latent_cache)


def build_sw_cache(cfg: SWConfig, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """`shoemodel train sw-cache`: build (or confirm) the latent cache of `cfg`; returns its cache.json."""
    import json
    import tempfile

    from shoemodel.training.sw.cache import META, build_cache, cache_key, is_fresh

    if not cfg.latent_cache:
        raise ValueError("train.sw.latent_cache is empty: set the cache folder (e.g. --set latent_cache=data/cache/sw_latents)")
    prepare_imports()
    with tempfile.TemporaryDirectory() as tmp:  # a tiny base is rebuilt where training builds it: same bytes, same key
        base_path, _ = resolve_base(cfg, Path(tmp) / "tiny_base")
        if not is_fresh(cfg.latent_cache, cache_key(cfg, base_path)):
            build_cache(cfg, load_base_model(base_path, cfg.base_config or None), base_path, cfg.latent_cache,
                        device=resolve_device(), log=log)
        elif log is not None:
            log(f"sw-cache: {cfg.latent_cache} is up to date")
    meta = json.loads((Path(cfg.latent_cache) / META).read_text())
    return {k: meta[k] for k in ("num_records", "num_crops", "latent_shape")} | {"folder": str(cfg.latent_cache),
                                                                              "prompts": len(meta["prompts"])}


def write_sw_folder(controlnet: Any, cfg: SWConfig, base_path: str, tiny: bool, summary: dict[str, Any]) -> Path:
    """`<output_dir>/controlnet/` (diffusers format) and sw.json; the tiny base is named relative to the folder so it can move."""
    out = Path(cfg.output_dir)
    controlnet.save_pretrained(out / "controlnet")
    loss = summary["final_loss"]
    write_json(out / META_FILE, {
        "base_model": str(Path(base_path).relative_to(out)) if tiny else base_path,
        "base_config": cfg.base_config or None, "resolution": cfg.resolution, "steps": summary["steps"],
        "tiny_random_base": tiny, "final_loss": loss if math.isfinite(loss) else None,
        "train_config": dataclasses.asdict(cfg)})  # no wall time: the folder is a DVC output, hashed in dvc.lock
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
    set_attention((base.unet, controlnet), cfg.attention)
    cache = prepare_cache(cfg, base, base_path, log)
    dataset: Any = load_dataset(cfg.train_set, cfg.resolution, max_records=cfg.max_records, flip=cfg.random_flip,
                                template=cfg.caption_template, variants=cfg.cache_variants if cache is not None else 0)
    validating = cfg.num_validation_images > 0 and cfg.validation_every > 0
    frozen: tuple[Any, ...] = (base.unet, base.vae, base.text_encoder)
    if cache is not None:
        from shoemodel.training.sw.cache import CachedShoeLegDataset

        dataset = CachedShoeLegDataset(dataset, cache)
        if not validating:  # the VAE and text encoder stay on the CPU: only validation samples with them
            frozen = (base.unet,)
    final, summary = train_loop(
        cfg, controlnet, dataset, collate,
        make_loss(base, cfg.empty_prompt_prob, cache.prompt_embeds if cache is not None else None), [],
        frozen=frozen, make_optimizer=partial(make_optimizer, cfg=cfg),
        validate=make_validate(cfg, base) if validating else None, on_device=speed_up(cfg, base.unet, controlnet))
    summary["latent_cache"] = bool(cache is not None)
    if summary["is_main_process"]:  # one writer when several GPUs train
        out = write_sw_folder(final, cfg, base_path, tiny, summary)
        if log is not None:
            log(f"SW: steps {summary['resumed_from']}..{summary['steps']} in {summary['seconds']} s; saved {out}")
    return summary
