"""One training loop for every model (WD, LpS phase 1 / 2, SW), built on accelerate (device, mixed precision,
gradient accumulation, state files).

A task plugs in a Dataset whose items are indexed by (record index, augmentation seed), a collate
function, and `loss_fn(model, batch, generator) -> (loss, logs)`. Optionally it names modules the loss
uses without training them (`frozen`), an optimiser factory and a validation callback. Only the model's
parameters that require gradients train. The loop owns the LR schedule (diffusers' `get_scheduler`),
optional EMA (diffusers' `EMAModel`), progress bar, CSV loss log, train.json summary and resumable state
in `<output_dir>/training_state` (accelerate `save_state`); saving the final model is left to the task.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from shoemodel.models.runtime import prepare_imports, set_torch_threads
from shoemodel.store.atomic import write_json
from shoemodel.training.common import LoopConfig, MetricLog, StepBatchSampler

LossFn = Callable[[torch.nn.Module, Any, torch.Generator], tuple[torch.Tensor, dict[str, float]]]
#: Builds the optimiser over the trainable parameters (default: `adamw` from the config).
OptimizerFactory = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]
#: Called on the main process with the (unwrapped, eval-mode) model and the number of steps done.
ValidateFn = Callable[[torch.nn.Module, int], None]

STATE_DIR = "training_state"


def adamw(params: list[torch.nn.Parameter], cfg: LoopConfig) -> torch.optim.Optimizer:
    """The default optimiser: AdamW at the config's learning rate and weight decay."""
    return torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """What the optimiser, clipping and EMA see: the parameters that require gradients (a task freezes the rest)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameter that requires gradients: nothing to train")
    return params


def frozen_dtype(device: torch.device, mixed_precision: str) -> torch.dtype:
    """Weights of frozen modules: the mixed-precision dtype on an accelerator, float32 on CPU (its kernels,
    e.g. group_norm, refuse half weights with float32 inputs, so there mixed precision is autocast only)."""
    if device.type == "cpu":
        return torch.float32
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mixed_precision, torch.float32)


def freeze(*modules: torch.nn.Module) -> None:
    """Modules a loss uses but never trains: no gradients, eval mode (no dropout)."""
    for m in modules:
        m.requires_grad_(False)
        m.eval()


def _place_frozen(modules: Sequence[torch.nn.Module], device: torch.device, mixed_precision: str) -> None:
    """Freeze and move the frozen modules once: no gradients, eval mode, the device and frozen dtype."""
    dtype = frozen_dtype(device, mixed_precision)
    freeze(*modules)
    for m in modules:
        if any(p.is_floating_point() and p.dtype != dtype for p in m.parameters()):
            m.to(device, dtype=dtype)
        else:  # no cast asked: diffusers warns about casts even to the dtype a module already has
            m.to(device)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step * 7919 + 12345) % (2**63 - 1)


def _release_accelerator_state(mixed_precision: str) -> None:
    """accelerate keeps one process-wide state; a later run in the same process (tests, notebooks) asking for
    another precision would be refused, so drop a state that was set up differently."""
    from accelerate.state import AcceleratorState

    if AcceleratorState._shared_state and AcceleratorState._shared_state.get("_mixed_precision") not in (None, mixed_precision):
        AcceleratorState._reset_state(reset_partial_state=True)


def train_loop(cfg: LoopConfig, model: torch.nn.Module, dataset: Dataset, collate: Callable[[list], Any],
               loss_fn: LossFn, log_fields: list[str], use_ema: bool = False, ema_decay: float = 0.999, *,
               frozen: Sequence[torch.nn.Module] = (), make_optimizer: OptimizerFactory | None = None,
               validate: ValidateFn | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train `model` for cfg.steps optimiser steps (resuming if a state exists); returns (model to export, summary).

    A step is `cfg.gradient_accumulation_steps` micro-batches of `cfg.batch_size`. `frozen` modules (used
    by `loss_fn` through its closure) are moved to the device once and never saved in the state. The
    returned model carries EMA weights when `use_ema` is set. Losses go to `<metrics_dir>/train_log.csv`
    (a DVC plot) and a summary to `<metrics_dir>/train.json`.
    """
    prepare_imports()  # before diffusers: its EMA helper pulls in torchvision ops the CPU wheel lacks
    from accelerate import Accelerator
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    accum = max(1, cfg.gradient_accumulation_steps)
    _release_accelerator_state(cfg.mixed_precision)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=accum,
                              cpu=not torch.cuda.is_available())
    if accelerator.device.type == "cpu":
        set_torch_threads(cfg.cpu_threads)
    torch.manual_seed(cfg.seed)
    _place_frozen(frozen, accelerator.device, accelerator.mixed_precision)
    params = trainable_parameters(model)
    ema = EMAModel(params, decay=ema_decay) if use_ema else None
    optimizer = make_optimizer(params) if make_optimizer is not None else adamw(params, cfg)
    # accelerate's scheduler wrapper advances once per process for each optimiser step
    procs = accelerator.num_processes
    scheduler = get_scheduler(cfg.lr_scheduler, optimizer, num_warmup_steps=cfg.warmup_steps * procs,
                              num_training_steps=max(cfg.steps, cfg.warmup_steps + 1) * procs)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    if ema is not None:
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)

    out = Path(cfg.output_dir)
    state_dir = out / STATE_DIR
    start = 0
    if cfg.resume and (state_dir / "step.json").exists():
        accelerator.load_state(str(state_dir))
        start = int(json.loads((state_dir / "step.json").read_text())["step"])
    start = min(start, cfg.steps)
    end = min(cfg.steps, cfg.stop_at) if cfg.stop_at > 0 else cfg.steps

    main = accelerator.is_main_process

    def save_state(step: int) -> None:
        accelerator.wait_for_everyone()
        accelerator.save_state(str(state_dir))
        if main:
            write_json(state_dir / "step.json", {"step": step})

    log = MetricLog(Path(cfg.metrics_dir) / "train_log.csv", ["loss", "lr", *log_fields], start_step=start) if main else None
    sampler = StepBatchSampler(len(dataset), cfg.batch_size, cfg.seed, end, start,  # type: ignore[arg-type]
                               num_shards=accelerator.num_processes, shard=accelerator.process_index,
                               accumulation=accum)
    batches = iter(DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.num_workers,
                              persistent_workers=False))
    bar = tqdm(total=cfg.steps, initial=start, disable=not (cfg.progress and main), desc=out.name, dynamic_ncols=True)
    t0, losses, last = time.time(), [], {}
    for step in range(start, end):
        model.train()
        micro_losses = []
        for micro in range(accum):
            seed = _step_seed(cfg.seed, step) + 2 * micro
            torch.manual_seed(seed)
            gen = torch.Generator(device=accelerator.device).manual_seed(seed + 1)
            batch = _to_device(next(batches), accelerator.device)
            with accelerator.accumulate(model):
                with accelerator.autocast():
                    loss, logs = loss_fn(model, batch, gen)
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()  # the accelerate wrappers skip these until the last micro-batch
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            micro_losses.append(float(loss.detach()))
        if ema is not None:
            ema.step(params)
        losses.append(sum(micro_losses) / accum)
        last = {"loss": losses[-1], **logs}
        if log is not None and ((step + 1) % max(cfg.log_every, 1) == 0 or step + 1 == cfg.steps):
            log.append(step + 1, loss=sum(losses[-cfg.log_every:]) / len(losses[-cfg.log_every:]),
                       lr=scheduler.get_last_lr()[0], **{k: logs.get(k, float("nan")) for k in log_fields})
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        bar.update(1)
        if validate is not None and main and cfg.validation_every and (step + 1) % cfg.validation_every == 0:
            net = accelerator.unwrap_model(model)
            net.eval()
            with torch.no_grad():
                validate(net, step + 1)
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < end:
            save_state(step + 1)
    bar.close()
    save_state(max(end, start))
    final = accelerator.unwrap_model(model)
    if ema is not None:
        ema.copy_to(trainable_parameters(final))
    tail = losses[-max(1, len(losses) // 10):]
    summary = {"steps": max(end, start), "resumed_from": start, "seconds": round(time.time() - t0, 2),
               "final_loss": last.get("loss", float("nan")),
               "mean_loss_last_10pct": sum(tail) / len(tail) if tail else float("nan")}
    if main:
        write_json(Path(cfg.metrics_dir) / "train.json", summary)
    return final, {**summary, "losses": losses, "is_main_process": main}
