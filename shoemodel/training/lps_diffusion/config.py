"""LpS phase 2 configuration (params.yaml `train.lps_diffusion`); defaults follow the paper's §5 run."""

from __future__ import annotations

from dataclasses import dataclass

from shoemodel.config import ParamPath
from shoemodel.training.common import LoopConfig


@dataclass
class LegDiffusionConfig(LoopConfig):
    train_set: ParamPath = "data/sets/train/shoe_leg"  # the merged set (merge.shoe_leg.out)
    output_dir: ParamPath = "models/lps_diffusion"
    metrics_dir: ParamPath = "metrics/lps_diffusion"
    steps: int = 700_000
    batch_size: int = 4096
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    lr_scheduler: str = "constant_with_warmup"
    warmup_steps: int = 1000
    mixed_precision: str = "bf16"
    num_workers: int = 8
    hidden_size: int = 512
    num_blocks: int = 4
    time_embed_dim: int = 128
    dropout: float = 0.0
    num_train_timesteps: int = 25  # T of the paper
    beta_schedule: str = "squaredcos_cap_v2"  # with T=25 a linear 1e-4..0.02 schedule never reaches noise
    use_ema: bool = True
    ema_decay: float = 0.999
    rotate_prob: float = 0.5
    rotate_deg: float = 15.0
    flip_prob: float = 0.5  # not in the paper: a mirrored pose with left/right swapped is as plausible
    eval_split: str = "test"
    eval_samples: int = 8  # poses drawn per test shoe for diversity / best-of-N
