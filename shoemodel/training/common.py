"""Pieces every trainer shares: the loop config, deterministic batching, metric logs.

Determinism is by construction: micro-batch `u` is drawn from a permutation seeded by (seed, epoch) and
each sample's augmentation RNG is seeded by (seed, u, position), so a run resumed from step k draws
exactly the batches and augmentations the uninterrupted run would have drawn.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shoemodel.config import ParamPath


@dataclass
class LoopConfig:
    """Optimisation and bookkeeping knobs common to WD, LpS phase 1 / phase 2 and SW."""

    train_set: ParamPath = "data/sets/train/shoe_leg"
    output_dir: ParamPath = "models/model"
    metrics_dir: ParamPath = "metrics/model"
    steps: int = 100  # optimiser steps
    batch_size: int = 8  # per process and micro-batch
    gradient_accumulation_steps: int = 1  # micro-batches per optimiser step (accelerate's accumulate)
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    lr_scheduler: str = "cosine"  # any name diffusers.optimization.get_scheduler knows
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    seed: int = 0
    mixed_precision: str = "no"  # auto | no | bf16 | fp16 (or float32 | bfloat16 | float16: shoemodel.models.device)
    num_workers: int = 0
    pin_memory: bool = True  # page-locked batches and non-blocking copies (GPU only)
    prefetch_factor: int = 2  # batches each DataLoader worker prepares ahead (with num_workers > 0)
    persistent_workers: bool = True  # keep workers alive across the run (with num_workers > 0)
    fused_optimizer: bool = True  # AdamW's fused CUDA kernel (GPU only; CPU keeps the default)
    log_every: int = 10
    checkpoint_every: int = 0  # 0: only at the end
    validation_every: int = 0  # >0: run the task's validation callback (main process) every this many steps
    validation_async: bool = True  # validate a snapshot of the model in a background thread while training goes on
    resume: bool = True  # continue from output_dir/training_state when it exists
    stop_at: int = 0  # >0: stop after this global step, saving the state (time-sliced or preemptible jobs)
    max_records: int = 0  # 0: all; else the first N training records (smoke runs)
    progress: bool = True
    cpu_threads: int = 0  # >0: torch.set_num_threads on CPU (1 is much faster than 2 on a shared 2-core box)


def rng_for(*keys: int) -> np.random.Generator:
    """A NumPy generator seeded by a tuple of ints (seed, step, position...)."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


class StepBatchSampler:
    """Yield, for steps start..steps-1, `accumulation` micro-batches of (record index, augmentation seed) pairs.

    Micro-batch u = step * accumulation + m is a pure function of u, so a step trains on
    `batch_size * accumulation` samples per process whatever happened before it. With several processes
    (multi-GPU), a micro-batch is `batch_size * num_shards` global draws and process `shard` takes its own
    contiguous slice, so the processes never train on the same samples.
    """

    def __init__(self, num_items: int, batch_size: int, *, seed: int, steps: int, start_step: int = 0,
                 num_shards: int = 1, shard: int = 0, accumulation: int = 1):
        if num_items <= 0:
            raise ValueError("StepBatchSampler: the training split is empty")
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard {shard} outside 0..{num_shards - 1}")
        if accumulation < 1:
            raise ValueError(f"accumulation must be >= 1, got {accumulation}")
        self.n, self.bs, self.seed, self.steps, self.start = num_items, batch_size, seed, steps, start_step
        self.num_shards, self.shard, self.accumulation = num_shards, shard, accumulation

    def micro_batch(self, micro: int) -> list[tuple[int, int]]:
        """This process's share of global micro-batch `micro`."""
        out = []
        global_bs = self.bs * self.num_shards
        for j in range(self.shard * self.bs, (self.shard + 1) * self.bs):
            flat = micro * global_bs + j
            epoch, pos = divmod(flat, self.n)
            perm = rng_for(self.seed, epoch).permutation(self.n)
            out.append((int(perm[pos]), int(rng_for(self.seed, micro, j, 7).integers(0, 2**31 - 1))))
        return out

    def batch(self, step: int) -> list[tuple[int, int]]:
        """Every sample this process trains on in optimiser step `step` (all its micro-batches)."""
        return [key for m in range(self.accumulation) for key in self.micro_batch(step * self.accumulation + m)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.steps):
            for m in range(self.accumulation):
                yield self.micro_batch(step * self.accumulation + m)

    def __len__(self) -> int:
        return max(0, self.steps - self.start) * self.accumulation


class MetricLog:
    """Append-only CSV of (step, name=value...) rows: a DVC plot file that survives resume."""

    def __init__(self, path: str | Path, fields: list[str], start_step: int = 0):
        self.path, self.fields = Path(path), ["step", *fields]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        if self.path.exists() and start_step > 0:
            with self.path.open() as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= start_step]
        with self.path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, self.fields)
            w.writeheader()
            w.writerows(rows)

    def append(self, step: int, **values: float) -> None:
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, self.fields).writerow({"step": step, **{k: f"{v:.6g}" for k, v in values.items()}})

