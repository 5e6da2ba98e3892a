"""Pieces every trainer shares: the loop config, deterministic batching, checkpoint folders, metric logs.

Determinism is by construction: batch `step` is drawn from a permutation seeded by (seed, epoch) and
each sample's augmentation RNG is seeded by (seed, step, position), so a run resumed from step k draws
exactly the batches and augmentations the uninterrupted run would have drawn.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.compat.torchvision import ensure_torchvision

ensure_torchvision()


@dataclass
class LoopConfig:
    """Optimisation and bookkeeping knobs common to WD, LpS phase 1 and phase 2."""

    train_set: str = "data/sets/shoe_leg"
    output_dir: str = "models/model"
    metrics_dir: str = "metrics/model"
    steps: int = 100
    batch_size: int = 8
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    lr_scheduler: str = "cosine"  # any name diffusers.optimization.get_scheduler knows
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    seed: int = 0
    mixed_precision: str = "no"  # "no" | "fp16" | "bf16" (accelerate)
    num_workers: int = 0
    log_every: int = 10
    checkpoint_every: int = 0  # 0: only at the end
    resume: bool = True  # continue from output_dir/training_state when it exists
    stop_at: int = 0  # >0: stop after this global step, saving the state (time-sliced or preemptible jobs)
    max_records: int = 0  # 0: all; else the first N training records (smoke runs)
    progress: bool = True
    cpu_threads: int = 0  # >0: torch.set_num_threads on CPU (1 is much faster than 2 on a shared 2-core box)


def rng_for(*keys: int) -> np.random.Generator:
    """A NumPy generator seeded by a tuple of ints (seed, step, position...)."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in keys])


class StepBatchSampler:
    """Yield, for steps start..steps-1, a batch of (record index, augmentation seed) pairs.

    With several processes (multi-GPU), the global batch of a step is `batch_size * num_shards` draws and
    process `shard` takes its own contiguous slice, so the processes never train on the same samples.
    """

    def __init__(self, num_items: int, batch_size: int, seed: int, steps: int, start_step: int = 0,
                 num_shards: int = 1, shard: int = 0):
        if num_items <= 0:
            raise ValueError("StepBatchSampler: the training split is empty")
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard {shard} outside 0..{num_shards - 1}")
        self.n, self.bs, self.seed, self.steps, self.start = num_items, batch_size, seed, steps, start_step
        self.num_shards, self.shard = num_shards, shard

    def batch(self, step: int) -> list[tuple[int, int]]:
        out = []
        global_bs = self.bs * self.num_shards
        for j in range(self.shard * self.bs, (self.shard + 1) * self.bs):
            flat = step * global_bs + j
            epoch, pos = divmod(flat, self.n)
            perm = rng_for(self.seed, epoch).permutation(self.n)
            out.append((int(perm[pos]), int(rng_for(self.seed, step, j, 7).integers(0, 2**31 - 1))))
        return out

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.steps):
            yield self.batch(step)

    def __len__(self) -> int:
        return max(0, self.steps - self.start)


def save_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (temp name then rename), so DVC never sees half a metrics file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")
    os.replace(tmp, p)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


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


def config_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def write_model_folder(folder: str | Path, model_config: dict[str, Any], state_dict: dict[str, Any]) -> Path:
    """A checkpoint folder = config.json (what to build) + model.safetensors (weights)."""
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    save_json(out / "config.json", model_config)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    tmp = out / "model.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, out / "model.safetensors")
    return out


def read_model_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Inverse of `write_model_folder`, with an error naming the missing file."""
    from safetensors.torch import load_file

    p = Path(folder)
    for name in ("config.json", "model.safetensors"):
        if not (p / name).exists():
            raise FileNotFoundError(f"checkpoint {p}: missing {name} (train it first, e.g. `dvc repro`, or copy a trained folder here)")
    return json.loads((p / "config.json").read_text()), load_file(str(p / "model.safetensors"))


def select_device(name: str | None = None) -> str:
    import torch

    if name:
        return name
    return "cuda" if torch.cuda.is_available() else "cpu"
