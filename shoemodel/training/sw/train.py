"""Train the ShoeControlNet (paper §3.3, Eq. 2) with accelerate: mixed precision, accumulation, multi-GPU, resume.

Only the ControlNet learns; the SD 1.5 UNet, VAE and text encoder stay frozen. Checkpoints hold the
full training state (accelerate `save_state`) and the newest one is resumed; the data stream restarts
from the beginning of the set on resume (it is shuffled and repeated, so no example is privileged).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.models.runtime import prepare_imports, set_torch_threads
from shoemodel.models.sw.base import freeze, load_base_model, make_controlnet
from shoemodel.models.sw.generator import META_FILE
from shoemodel.training.sw.config import SWConfig
from shoemodel.training.sw.data import collate, iter_examples, make_example
from shoemodel.training.sw.loss import encode_prompts, sw_loss

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def resolve_base(cfg: SWConfig) -> tuple[str, bool]:
    """The base model path; "tiny" builds (once) a random tiny base under output_dir/tiny_base."""
    if cfg.base_model != "tiny":
        return cfg.base_model, False
    from shoemodel.models.sw.tiny import make_tiny_base_model

    folder = Path(cfg.output_dir) / "tiny_base"
    if not (folder / "model_index.json").exists():
        make_tiny_base_model(folder, resolution=cfg.resolution, seed=cfg.seed)
    return str(folder), True


def latest_checkpoint(output_dir: str | Path) -> tuple[Path, int] | None:
    """Newest checkpoint folder and its step, or None."""
    found = [(int(m.group(1)), p) for p in Path(output_dir).glob("checkpoint-*") if (m := CHECKPOINT_RE.match(p.name))]
    if not found:
        return None
    step, path = max(found)
    return path, step


def _prune_checkpoints(output_dir: Path, keep: int) -> None:
    found = sorted((int(m.group(1)), p) for p in output_dir.glob("checkpoint-*") if (m := CHECKPOINT_RE.match(p.name)))
    for _, p in found[: max(0, len(found) - keep)]:
        shutil.rmtree(p, ignore_errors=True)


def _make_optimizer(params: Any, cfg: SWConfig) -> Any:
    import torch

    if cfg.use_8bit_adam:
        try:
            import bitsandbytes as bnb
        except ImportError as exc:
            raise ImportError("use_8bit_adam needs bitsandbytes (pip install bitsandbytes, GPU only)") from exc
        return bnb.optim.AdamW8bit(params, lr=cfg.learning_rate, weight_decay=cfg.adam_weight_decay)
    return torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.adam_weight_decay)


def _batches(cfg: SWConfig, rank: int, world: int) -> Iterator[dict[str, Any]]:
    stream = iter_examples(cfg.data, cfg.resolution, seed=cfg.seed, flip=cfg.random_flip, template=cfg.caption_template,
                           shard_index=rank, num_shards=world, shuffle_buffer=cfg.shuffle_buffer)
    while True:
        yield collate(list(itertools.islice(stream, cfg.train_batch_size)))


def validation_conditions(cfg: SWConfig, n: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(X_w, X_p, prompt) of the first n val records (train records if the set has no val split)."""
    import random

    from shoemodel.store import iter_records
    from shoemodel.training.sw.data import COLUMNS

    out = []
    for split in ("val", "train"):
        for rec in itertools.islice(iter_records(cfg.data, COLUMNS, split=split), n):
            ex = make_example(rec, cfg.resolution, random.Random(0), False, cfg.caption_template)
            out.append((ex.x_w, ex.x_p, ex.prompt))
        if out:
            break
    return out


def save_validation_images(pipe: Any, conditions: list[tuple[np.ndarray, np.ndarray, str]], path: Path, steps: int,
                           seed: int) -> Path:
    """One row per condition: X_w, X_p, generated image; written as a PNG for a quick look during training."""
    from PIL import Image

    from shoemodel.models.sw.generator import SWGenerator

    gen = SWGenerator(pipe, conditions[0][0].shape[0])
    rows = [np.concatenate([x_w, x_p, gen.generate(x_w, [x_p], prompt, steps=steps, seed=seed)[0]], axis=1)
            for x_w, x_p, prompt in conditions]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path


def train_sw(cfg: SWConfig, log: Callable[[str], None] = print) -> Path:
    """Train (or resume) the ShoeControlNet; returns the folder with controlnet/ and sw.json."""
    prepare_imports()
    set_torch_threads(cfg.torch_threads)
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from diffusers.optimization import get_scheduler

    out = Path(cfg.output_dir)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.gradient_accumulation_steps,
                              project_dir=str(out))
    set_seed(cfg.seed)
    base_path, tiny = resolve_base(cfg) if accelerator.is_main_process else (None, False)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        base_path, tiny = resolve_base(cfg)
    base = load_base_model(base_path, cfg.base_config)
    controlnet = make_controlnet(base, cfg.controlnet_init)
    freeze(base.unet, base.vae, base.text_encoder)
    controlnet.train()
    if cfg.gradient_checkpointing:
        controlnet.enable_gradient_checkpointing()
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(accelerator.mixed_precision, torch.float32)
    if accelerator.device.type == "cpu":  # CPU kernels (group_norm) refuse half weights with fp32 inputs: autocast only
        weight_dtype = torch.float32
    for m in (base.unet, base.vae, base.text_encoder):
        m.to(accelerator.device) if weight_dtype == torch.float32 else m.to(accelerator.device, dtype=weight_dtype)

    optimizer = _make_optimizer(controlnet.parameters(), cfg)
    lr_scheduler = get_scheduler("constant_with_warmup", optimizer=optimizer,
                                 num_warmup_steps=cfg.lr_warmup_steps * accelerator.num_processes,
                                 num_training_steps=cfg.max_train_steps * accelerator.num_processes)
    controlnet, optimizer, lr_scheduler = accelerator.prepare(controlnet, optimizer, lr_scheduler)

    step = 0
    found = latest_checkpoint(out) if cfg.resume else None
    if found is not None:
        accelerator.load_state(str(found[0]))
        step = found[1]
        log(f"resumed from {found[0]} (step {step})")

    conditions = validation_conditions(cfg, cfg.num_validation_images) if accelerator.is_main_process else []
    batches = _batches(cfg, accelerator.process_index, accelerator.num_processes)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed + step)
    losses: list[float] = []
    t0 = time.time()
    while step < cfg.max_train_steps:
        with accelerator.accumulate(controlnet):
            batch = next(batches)
            prompts = ["" if _uniform(gen) < cfg.empty_prompt_prob else p for p in batch["prompts"]]
            embeds = encode_prompts(base.tokenizer, base.text_encoder, prompts, accelerator.device)
            loss = sw_loss(batch["pixel_values"].to(accelerator.device), batch["conditioning"].to(accelerator.device),
                           embeds, vae=base.vae, unet=base.unet, controlnet=controlnet, scheduler=base.scheduler)
            accelerator.backward(loss)
            if accelerator.sync_gradients:
                accelerator.clip_grad_norm_(controlnet.parameters(), cfg.max_grad_norm)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            continue
        step += 1
        losses.append(float(loss.detach()))
        if step % 10 == 0 or step == cfg.max_train_steps:
            log(f"step {step}/{cfg.max_train_steps} loss {np.mean(losses[-10:]):.4f} ({time.time() - t0:.1f}s)")
        if cfg.checkpointing_steps and step % cfg.checkpointing_steps == 0:
            if accelerator.is_main_process:
                accelerator.save_state(str(out / f"checkpoint-{step}"))
                _prune_checkpoints(out, cfg.checkpoints_total_limit)
        if accelerator.is_main_process and conditions and cfg.validation_steps and step % cfg.validation_steps == 0:
            _validate(accelerator, base, controlnet, conditions, out / "validation" / f"step-{step:07d}.png", cfg)

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        net = accelerator.unwrap_model(controlnet)
        net.save_pretrained(out / "controlnet")
        # the tiny base lives inside the SW folder: store it relative so the folder can move
        base_ref = str(Path(base_path).relative_to(out)) if tiny else str(base_path)
        meta = {"base_model": base_ref, "base_config": cfg.base_config, "resolution": cfg.resolution,
                "steps": step, "tiny_random_base": tiny, "final_loss": float(np.mean(losses[-10:])) if losses else None,
                "train_seconds": round(time.time() - t0, 2)}
        (out / META_FILE).write_text(json.dumps(meta, indent=1))
        log(f"saved {out / 'controlnet'}")
    accelerator.end_training()
    return out


def _uniform(gen: Any) -> float:
    """A uniform draw from a torch generator (reproducible prompt dropping)."""
    import torch

    return float(torch.rand(1, generator=gen))


def _validate(accelerator: Any, base: Any, controlnet: Any, conditions: list, path: Path, cfg: SWConfig) -> None:
    import copy

    from shoemodel.models.sw.generator import build_pipeline

    net = accelerator.unwrap_model(controlnet)
    dtype = next(base.unet.parameters()).dtype
    # Under mixed precision the frozen parts are fp16/bf16 and the ControlNet fp32: sample with a cast copy
    # (CPU kernels refuse mixed dtypes, and autocast would change what validation measures).
    val_net = net if next(net.parameters()).dtype == dtype else copy.deepcopy(net).to(dtype=dtype)
    val_net.eval()
    pipe = build_pipeline(base, val_net)
    pipe.set_progress_bar_config(disable=True)
    save_validation_images(pipe, conditions, path, cfg.validation_inference_steps, cfg.seed)
    net.train()
