"""One training loop for all three models, built on accelerate (device, mixed precision, state files).

A model plugs in a Dataset whose items are indexed by (record index, augmentation seed), a collate
function, and `loss_fn(model, batch, generator) -> (loss, logs)`. The loop owns the optimiser (AdamW),
the LR schedule (diffusers' `get_scheduler`), optional EMA (diffusers' `EMAModel`), progress bar, CSV
loss log, and resumable checkpoints in `<output_dir>/training_state` (accelerate `save_state`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from shoemodel.store.atomic import write_json
from shoemodel.training.common import LoopConfig, MetricLog, StepBatchSampler

LossFn = Callable[[torch.nn.Module, Any, torch.Generator], tuple[torch.Tensor, dict[str, float]]]

STATE_DIR = "training_state"


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
               loss_fn: LossFn, log_fields: list[str], use_ema: bool = False, ema_decay: float = 0.999,
               ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train `model` for cfg.steps (resuming if a state exists); returns (model to export, summary).

    The returned model carries EMA weights when `use_ema` is set. Losses go to
    `<metrics_dir>/train_log.csv` (a DVC plot) and a summary to `<metrics_dir>/train.json`.
    """
    from accelerate import Accelerator
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    _release_accelerator_state(cfg.mixed_precision)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available())
    if cfg.cpu_threads > 0 and accelerator.device.type == "cpu":
        torch.set_num_threads(cfg.cpu_threads)
    torch.manual_seed(cfg.seed)
    ema = EMAModel(model.parameters(), decay=ema_decay) if use_ema else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = get_scheduler(cfg.lr_scheduler, optimizer, num_warmup_steps=cfg.warmup_steps,
                              num_training_steps=max(cfg.steps, cfg.warmup_steps + 1))
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
                               num_shards=accelerator.num_processes, shard=accelerator.process_index)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.num_workers,
                        persistent_workers=False)
    bar = tqdm(total=cfg.steps, initial=start, disable=not (cfg.progress and main), desc=Path(cfg.output_dir).name,
               dynamic_ncols=True)
    t0, losses, last = time.time(), [], {}
    for step, batch in zip(range(start, end), loader, strict=False):
        model.train()
        torch.manual_seed(_step_seed(cfg.seed, step))
        gen = torch.Generator(device=accelerator.device).manual_seed(_step_seed(cfg.seed, step) + 1)
        batch = _to_device(batch, accelerator.device)
        with accelerator.autocast():
            loss, logs = loss_fn(model, batch, gen)
        accelerator.backward(loss)
        if cfg.max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            ema.step(model.parameters())
        losses.append(float(loss.detach()))
        last = {"loss": losses[-1], **logs}
        if log is not None and ((step + 1) % max(cfg.log_every, 1) == 0 or step + 1 == cfg.steps):
            log.append(step + 1, loss=sum(losses[-cfg.log_every:]) / len(losses[-cfg.log_every:]),
                       lr=scheduler.get_last_lr()[0], **{k: logs.get(k, float("nan")) for k in log_fields})
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        bar.update(1)
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < end:
            save_state(step + 1)
    bar.close()
    save_state(max(end, start))
    final = accelerator.unwrap_model(model)
    if ema is not None:
        ema.copy_to(final.parameters())
    summary = {"steps": max(end, start), "resumed_from": start, "seconds": round(time.time() - t0, 2),
               "final_loss": last.get("loss", float("nan")),
               "mean_loss_last_10pct": (sum(losses[-max(1, len(losses) // 10):]) / max(1, len(losses[-max(1, len(losses) // 10):]))) if losses else float("nan")}
    if main:
        write_json(Path(cfg.metrics_dir) / "train.json", summary)
    return final, {**summary, "losses": losses, "is_main_process": main}
