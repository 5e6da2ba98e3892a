"""Train WD: Segformer cross-entropy on augmented X_m / area-mask pairs; exports a from_pretrained folder."""

from __future__ import annotations

from typing import Any

import torch

from shoemodel.training.common import config_dict
from shoemodel.training.data import load_split
from shoemodel.training.engine import train_loop
from shoemodel.training.wd.config import WDConfig
from shoemodel.training.wd.data import WearableAreaDataset, collate
from shoemodel.training.wd.model import build_segformer


def _loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], gen: torch.Generator):
    out = model(pixel_values=batch["pixel_values"], labels=batch["labels"])
    return out.loss, {}


def train_wd(cfg: WDConfig) -> dict[str, Any]:
    """Run (or resume) training and write `<output_dir>` (config.json + model.safetensors)."""
    torch.manual_seed(cfg.seed)
    table = load_split(cfg.train_set, ["shoe_image", "area_mask"], "train", cfg.max_records)
    model = build_segformer(cfg.model_size, cfg.two_class, cfg.pretrained)
    model.config.shoemodel = {"image_size": cfg.image_size, "two_class": cfg.two_class,
                              "model_size": cfg.model_size, "train_config": config_dict(cfg)}
    final, summary = train_loop(cfg, model, WearableAreaDataset(table, cfg, train=True), collate, _loss, [])
    final.save_pretrained(cfg.output_dir, safe_serialization=True)
    return summary
