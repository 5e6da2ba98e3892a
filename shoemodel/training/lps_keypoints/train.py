"""Train LpS phase 1: ViTPose heatmap regression (weighted MSE, as mmpose's KeypointMSELoss)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from shoemodel.models.lps_keypoints.model import build_vitpose, heatmap_size
from shoemodel.training.data import load_split
from shoemodel.training.engine import train_loop
from shoemodel.training.lps_keypoints.config import FootKeypointsConfig
from shoemodel.training.lps_keypoints.data import FootKeypointDataset, collate


def heatmap_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], gen: torch.Generator):
    pred = model(pixel_values=batch["pixel_values"]).heatmaps.float()
    w = batch["weights"][:, :, None, None]
    loss = (((pred - batch["heatmaps"]) ** 2) * w).mean() * 0.5
    return loss, {}


def shoemodel_meta(cfg: FootKeypointsConfig) -> dict[str, Any]:
    return {"image_size": cfg.image_size, "model_size": cfg.model_size, "crop_to_content": cfg.crop_to_content,
            "crop_margin": cfg.crop_margin, "flip_test": cfg.flip_test, "train_config": dataclasses.asdict(cfg)}


def train_lps_keypoints(cfg: FootKeypointsConfig) -> dict[str, Any]:
    """Run (or resume) training; writes `<output_dir>` as a VitPose from_pretrained folder."""
    torch.manual_seed(cfg.seed)
    table = load_split(cfg.train_set, ["shoe_image", "keypoints"], "train", cfg.max_records)
    model = build_vitpose(cfg.model_size, cfg.image_size)
    model.config.shoemodel = shoemodel_meta(cfg)
    ds = FootKeypointDataset(table, cfg, heatmap_size(cfg.model_size, cfg.image_size), train=True)
    final, summary = train_loop(cfg, model, ds, collate, heatmap_loss, [])
    if summary["is_main_process"]:  # one writer when several GPUs train
        final.save_pretrained(cfg.output_dir, safe_serialization=True)
    return summary
