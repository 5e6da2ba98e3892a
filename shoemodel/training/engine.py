"""One training loop for every model (WD, LpS phase 1 / 2, SW), built on accelerate (device, mixed precision,
gradient accumulation, state files).

A task plugs in a Dataset whose items are indexed by (record index, augmentation seed), a collate
function, and `loss_fn(model, batch, rng) -> (loss, logs)`, `rng` a `StepRandom` (draws that do not depend
on the number of processes). Optionally it names modules the loss
uses without training them (`frozen`), an optimiser factory and a validation callback. Only the model's
parameters that require gradients train. The loop owns the LR schedule (diffusers' `get_scheduler`),
optional EMA (diffusers' `EMAModel`), progress bar, CSV loss log, train.json summary and resumable state
in `<output_dir>/training_state` (accelerate `save_state`); saving the final model is left to the task.

Speed settings shared by every trainer (LoopConfig): "auto" mixed precision (bf16 where the GPU has it),
fused AdamW on CUDA, a DataLoader with workers, pinned memory, prefetch and persistent workers, non-blocking
copies, and validation on a snapshot in a background thread so the loop does not wait for it.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from shoemodel.models.device import accelerate_precision, resolve_device, resolve_dtype
from shoemodel.models.runtime import prepare_imports, set_torch_threads
from shoemodel.store.atomic import write_json
from shoemodel.training.common import LoopConfig, MetricLog, StepBatchSampler

TIMING_FILE = "timing.json"  # wall time and samples/s of the last run, beside train.json (not a DVC output)


class StepRandom:
    """The random draws of one micro-batch, independent of how it is split over processes.

    Every process draws for the whole global micro-batch from the step's generator (seeded by seed and step
    alone) and keeps its own slice, so P processes x batch b draw exactly what 1 process x batch P*b draws:
    the same noise, timesteps and dropouts per sample, and multi-GPU training follows the single-GPU curve.
    The draws are tiny next to a model step. `generator` is the underlying torch.Generator.
    """

    def __init__(self, generator: torch.Generator, shard: int = 0, num_shards: int = 1):
        self.generator, self.shard, self.num_shards = generator, shard, num_shards
        self.device = generator.device

    def _slice(self, full: torch.Tensor, n: int) -> torch.Tensor:
        return full[self.shard * n:(self.shard + 1) * n]

    def randn(self, shape: Sequence[int], dtype: torch.dtype | None = None) -> torch.Tensor:
        """Standard normal of `shape` (first dimension: this process's batch), on the generator's device."""
        n = int(shape[0])
        full = torch.randn((n * self.num_shards, *shape[1:]), generator=self.generator, device=self.device, dtype=dtype)
        return self._slice(full, n)

    def rand(self, n: int) -> torch.Tensor:
        """Uniform [0, 1) of length n (this process's batch)."""
        return self._slice(torch.rand(n * self.num_shards, generator=self.generator, device=self.device), n)

    def randint(self, high: int, n: int) -> torch.Tensor:
        """Integers in [0, high) of length n (this process's batch)."""
        return self._slice(torch.randint(0, high, (n * self.num_shards,), generator=self.generator, device=self.device), n)


def as_step_random(rng: StepRandom | torch.Generator | None) -> StepRandom:
    """A StepRandom over `rng` (a bare generator draws for one process; None seeds a CPU generator from torch's global RNG)."""
    if isinstance(rng, StepRandom):
        return rng
    if rng is None:
        rng = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
    return StepRandom(rng)


LossFn = Callable[[torch.nn.Module, Any, StepRandom], tuple[torch.Tensor, dict[str, float]]]
#: Builds the optimiser over the trainable parameters (default: `adamw` from the config).
OptimizerFactory = Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer]
#: Called on the main process with the (unwrapped, eval-mode) model and the number of steps done.
ValidateFn = Callable[[torch.nn.Module, int], None]
#: Called once with the device and the resolved mixed precision after the model and frozen modules are placed
#: (a task sets memory formats or compiles its modules here).
OnDeviceFn = Callable[[torch.device, str], None]

STATE_DIR = "training_state"


def adamw(params: list[torch.nn.Parameter], cfg: LoopConfig) -> torch.optim.Optimizer:
    """The default optimiser: AdamW at the config's learning rate and weight decay; the fused CUDA kernel when
    `fused_optimizer` is set and every parameter is on a GPU (one kernel for all tensors instead of one each)."""
    fused = bool(cfg.fused_optimizer) and all(p.is_cuda for p in params)
    return torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, fused=fused or None)


def resolve_mixed_precision(mixed_precision: str, cuda: bool | None = None) -> str:
    """accelerate's name (no | fp16 | bf16) for a precision in any spelling (shoemodel.models.device): "auto" ->
    "bf16" on a CUDA device that supports it, else "no"."""
    device = resolve_device() if cuda is None else ("cuda" if cuda else "cpu")
    return accelerate_precision(resolve_dtype(mixed_precision, device, training=True))


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
    return resolve_dtype(mixed_precision, str(device), training=True)


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
        return batch.to(device, non_blocking=batch.is_pinned())
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def make_loader(dataset: Dataset, sampler: Any, collate: Callable[[list], Any], cfg: LoopConfig,
                device: torch.device) -> DataLoader:
    """The loop's DataLoader: workers with prefetch and persistent processes, pinned memory on a GPU."""
    workers = max(0, cfg.num_workers)
    extra: dict[str, Any] = {}
    if workers > 0:
        extra = {"prefetch_factor": max(1, cfg.prefetch_factor), "persistent_workers": bool(cfg.persistent_workers)}
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=workers,
                      pin_memory=bool(cfg.pin_memory) and device.type == "cuda", **extra)


class BackgroundValidation:
    """Runs the validation callback on a snapshot of the model in one background thread.

    The snapshot (a deep copy, eval mode) is taken at the step, so the images show that step's weights
    while the loop trains on; a new validation waits for the previous one, and `close` waits for the last.
    Synchronous when `background` is off (the callback then sees the live model).
    """

    def __init__(self, validate: ValidateFn, background: bool):
        self.validate, self.background = validate, background
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="validation") if background else None
        self.pending: Future | None = None

    def __call__(self, model: torch.nn.Module, step: int) -> None:
        if self.pool is None:
            was = model.training
            model.eval()
            with torch.no_grad():
                self.validate(model, step)
            model.train(was)
            return
        self.wait()
        snapshot = copy.deepcopy(model).eval().requires_grad_(False)
        if getattr(snapshot, "_compiled_call_impl", None) is not None:  # sample eagerly: no recompile for eval shapes
            snapshot._compiled_call_impl = None
        self.pending = self.pool.submit(self._run, snapshot, step)

    def _run(self, model: torch.nn.Module, step: int) -> None:
        with torch.no_grad():
            self.validate(model, step)

    def wait(self) -> None:
        if self.pending is not None:
            self.pending.result()  # re-raises a failure of the validation thread here
            self.pending = None

    def close(self) -> None:
        self.wait()
        if self.pool is not None:
            self.pool.shutdown()


def _step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step * 7919 + 12345) % (2**63 - 1)


def _release_accelerator_state(mixed_precision: str) -> None:
    """accelerate keeps one process-wide state; a later run in the same process (tests, notebooks) asking for
    another precision would be refused, so drop a state that was set up differently."""
    from accelerate.state import AcceleratorState

    if AcceleratorState._shared_state and AcceleratorState._shared_state.get("_mixed_precision") not in (None, mixed_precision):
        AcceleratorState._reset_state(reset_partial_state=True)


def train_loop(cfg: LoopConfig, model: torch.nn.Module, dataset: Dataset, collate: Callable[[list], Any],
               loss_fn: LossFn, log_fields: list[str], *, use_ema: bool = False, ema_decay: float = 0.999,
               frozen: Sequence[torch.nn.Module] = (), make_optimizer: OptimizerFactory | None = None,
               validate: ValidateFn | None = None,
               on_device: OnDeviceFn | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train `model` for cfg.steps optimiser steps (resuming if a state exists); returns (model to export, summary).

    A step is `cfg.gradient_accumulation_steps` micro-batches of `cfg.batch_size`. `frozen` modules (used
    by `loss_fn` through its closure) are moved to the device once and never saved in the state. The
    returned model carries EMA weights when `use_ema` is set. Losses go to `<metrics_dir>/train_log.csv`
    (a DVC plot) and a summary to `<metrics_dir>/train.json` (its times in `timing.json`).
    """
    prepare_imports()  # before diffusers: its EMA helper pulls in torchvision ops the CPU wheel lacks
    from accelerate import Accelerator
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    accum = max(1, cfg.gradient_accumulation_steps)
    mixed_precision = resolve_mixed_precision(cfg.mixed_precision)
    _release_accelerator_state(mixed_precision)
    accelerator = Accelerator(mixed_precision=mixed_precision, gradient_accumulation_steps=accum,
                              cpu=resolve_device() == "cpu")
    if accelerator.device.type == "cpu":
        set_torch_threads(cfg.cpu_threads)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)  # the global RNGs too: accelerate saves them in the state, and two runs of one config
    np.random.seed(cfg.seed % 2**32)  # must write the same output folder (dvc.lock hashes it)
    _place_frozen(frozen, accelerator.device, accelerator.mixed_precision)
    model.to(accelerator.device)  # before the optimiser, so a fused AdamW sees device parameters
    if accelerator.num_processes > 1 and accelerator.device.type == "cuda":  # batch statistics over the global batch
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if on_device is not None:
        on_device(accelerator.device, accelerator.mixed_precision)
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
    sampler = StepBatchSampler(len(dataset), cfg.batch_size, seed=cfg.seed, steps=end, start_step=start,  # type: ignore[arg-type]
                               num_shards=accelerator.num_processes, shard=accelerator.process_index,
                               accumulation=accum)
    batches = iter(make_loader(dataset, sampler, collate, cfg, accelerator.device))
    validation = BackgroundValidation(validate, cfg.validation_async) if validate is not None and main else None
    bar = tqdm(total=cfg.steps, initial=start, disable=not (cfg.progress and main), desc=out.name, dynamic_ncols=True)
    t0, losses, last = time.time(), [], {}
    t_first: float | None = None  # after the first step (compilation, worker start-up): the throughput clock
    for step in range(start, end):
        model.train()
        micro_losses = []
        for micro in range(accum):
            seed = _step_seed(cfg.seed, step) + 2 * micro
            torch.manual_seed(seed)
            gen = StepRandom(torch.Generator(device=accelerator.device).manual_seed(seed + 1),
                             accelerator.process_index, accelerator.num_processes)
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
            micro_losses.append(float(accelerator.reduce(loss.detach(), "mean")))  # the global batch's loss
        if ema is not None:
            ema.step(params)
        losses.append(sum(micro_losses) / accum)
        last = {"loss": losses[-1], **logs}
        if log is not None and ((step + 1) % max(cfg.log_every, 1) == 0 or step + 1 == cfg.steps):
            log.append(step + 1, loss=sum(losses[-cfg.log_every:]) / len(losses[-cfg.log_every:]),
                       lr=scheduler.get_last_lr()[0], **{k: logs.get(k, float("nan")) for k in log_fields})
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
        bar.update(1)
        if step == start:
            t_first = time.time()
        if validation is not None and cfg.validation_every and (step + 1) % cfg.validation_every == 0:
            validation(accelerator.unwrap_model(model), step + 1)
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < end:
            save_state(step + 1)
    bar.close()
    t_end = time.time()
    if validation is not None:
        validation.close()
    save_state(max(end, start))
    final = accelerator.unwrap_model(model)
    if ema is not None:
        ema.copy_to(trainable_parameters(final))
    tail = losses[-max(1, len(losses) // 10):]
    timed = end - start - 1  # steps after the first
    per_step = cfg.batch_size * accum * accelerator.num_processes
    sps = timed * per_step / (t_end - t_first) if t_first is not None and timed > 0 and t_end > t_first else float("nan")
    summary = {"steps": max(end, start), "resumed_from": start, "mixed_precision": accelerator.mixed_precision,
               "final_loss": last.get("loss", float("nan")),
               "mean_loss_last_10pct": sum(tail) / len(tail) if tail else float("nan")}
    timing = {"seconds": round(time.time() - t0, 2), "samples_per_second": sps}
    if main:  # train.json is a DVC metric (hashed in dvc.lock): the same config gives the same file; times beside it
        write_json(Path(cfg.metrics_dir) / "train.json", summary)
        write_json(Path(cfg.metrics_dir) / TIMING_FILE, timing)
    summary = {**summary, **timing}
    return final, {**summary, "losses": losses, "is_main_process": main}
