"""Train WD: Segformer cross-entropy on augmented X_m / area-mask pairs; exports a from_pretrained folder."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from shoemodel.models.wd.model import build_segformer
from shoemodel.training.data import load_split
from shoemodel.training.engine import train_loop
from shoemodel.training.wd.config import WDConfig
from shoemodel.training.wd.data import WearableAreaDataset, collate


def make_loss(class_weights: tuple[float, ...]):
    """Cross-entropy on logits upsampled to the label size (as Segformer's own loss), optionally class-weighted:
    the wearable area is a few percent of the pixels, and weighting it speeds up learning on small sets."""
    weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None

    def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor], gen: torch.Generator):
        logits = model(pixel_values=batch["pixel_values"]).logits
        labels = batch["labels"]
        up = torch.nn.functional.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
        w = weight.to(up.device) if weight is not None else None
        return torch.nn.functional.cross_entropy(up.float(), labels, weight=w, ignore_index=255), {}

    return loss_fn


def train_wd(cfg: WDConfig) -> dict[str, Any]:
    """Run (or resume) training and write `<output_dir>` (config.json + model.safetensors)."""
    torch.manual_seed(cfg.seed)
    from shoemodel.training.wd.data import INPUTS

    if cfg.input not in INPUTS:
        raise ValueError(f"train.wd.input must be one of {', '.join(INPUTS)}, got {cfg.input!r}")
    table = load_split(cfg.train_set, [INPUTS[cfg.input], "area_mask"], "train", cfg.max_records)
    n_cls = 2 if cfg.two_class else 3
    if cfg.class_weights and len(cfg.class_weights) != n_cls:
        raise ValueError(f"train.wd.class_weights needs {n_cls} values, got {list(cfg.class_weights)}")
    model = build_segformer(cfg.model_size, cfg.two_class, cfg.pretrained)
    model.config.shoemodel = {"image_size": cfg.image_size, "two_class": cfg.two_class,
                              "model_size": cfg.model_size, "crop_to_content": cfg.crop_to_content,
                              "crop_margin": cfg.crop_margin, "input": cfg.input, "train_config": dataclasses.asdict(cfg)}
    final, summary = train_loop(cfg, model, WearableAreaDataset(table, cfg, train=True), collate, make_loss(tuple(cfg.class_weights)), [])
    if summary["is_main_process"]:  # one writer when several GPUs train
        final.save_pretrained(cfg.output_dir, safe_serialization=True)
    return summary
