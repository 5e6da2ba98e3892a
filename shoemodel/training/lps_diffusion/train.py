"""Train LpS phase 2 with the simplified DDPM loss (Eq. 1): || ε - ε_θ(√ᾱ_t L_0 + √(1-ᾱ_t) ε, t, C_p) ||²."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from shoemodel.models.checkpoint import write_model_folder
from shoemodel.models.lps_diffusion.model import LegPoseDenoiser
from shoemodel.models.lps_diffusion.sampler import make_scheduler
from shoemodel.training.engine import StepRandom, train_loop
from shoemodel.training.lps_diffusion.config import LegDiffusionConfig
from shoemodel.training.lps_diffusion.data import LegPoseDataset, collate, load_keypoints


def make_loss(scheduler: Any):
    def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor], rng: StepRandom):
        leg, foot = batch["leg"], batch["foot"]
        noise = rng.randn(leg.shape).to(leg.device)
        t = rng.randint(scheduler.config.num_train_timesteps, leg.shape[0]).to(leg.device)
        noisy = scheduler.add_noise(leg, noise, t)
        return torch.nn.functional.mse_loss(model(noisy, t, foot).float(), noise), {}

    return loss_fn


def train_lps_diffusion(cfg: LegDiffusionConfig) -> dict[str, Any]:
    """Run (or resume) training; writes `<output_dir>` (config.json + model.safetensors, EMA weights)."""
    torch.manual_seed(cfg.seed)
    kpts, sizes = load_keypoints(cfg.train_set, "train", cfg.max_records)
    model = LegPoseDenoiser(cfg.hidden_size, cfg.num_blocks, cfg.time_embed_dim, cfg.dropout)
    sched_cfg = {"num_train_timesteps": cfg.num_train_timesteps, "beta_schedule": cfg.beta_schedule}
    scheduler = make_scheduler(**sched_cfg)
    final, summary = train_loop(cfg, model, LegPoseDataset(kpts, sizes, cfg, train=True), collate, make_loss(scheduler),
                                [], use_ema=cfg.use_ema, ema_decay=cfg.ema_decay)
    if summary["is_main_process"]:  # one writer when several GPUs train
        write_model_folder(cfg.output_dir, {"kind": "lps_diffusion", "model": final.config, "scheduler": sched_cfg,
                                            "train_config": dataclasses.asdict(cfg)}, final.state_dict())
    return summary
