"""LpS phase 1 configuration (params.yaml `train.lps_keypoints`); defaults follow the paper's §5 run."""

from __future__ import annotations

from dataclasses import dataclass

from shoemodel.config import ParamPath
from shoemodel.training.common import LoopConfig


@dataclass
class FootKeypointsConfig(LoopConfig):
    train_set: ParamPath = "data/sets/train/shoe_leg"  # the merged set (merge.shoe_leg.out)
    output_dir: ParamPath = "models/lps_keypoints"
    metrics_dir: ParamPath = "metrics/lps_keypoints"
    steps: int = 500_000  # ~180 epochs of 669k images at batch 240
    batch_size: int = 240
    learning_rate: float = 5e-4
    weight_decay: float = 0.1
    lr_scheduler: str = "cosine"
    warmup_steps: int = 500
    mixed_precision: str = "bf16"
    num_workers: int = 8
    model_size: str = "small"  # tiny | small | base | large | huge (ViTPose sizes)
    image_size: int = 256  # the paper's fixed (256, 256) input
    sigma: float = 2.0  # MSRA Gaussian sigma in heatmap pixels (at 64x64 heatmaps)
    crop_to_content: bool = True  # fit the shoe pixels' own box (no person detector), else whole image
    crop_margin: float = 0.15
    rotate_prob: float = 0.5
    rotate_deg: float = 15.0
    scale_min: float = 0.75  # rescale ...
    scale_max: float = 1.25
    translate: float = 0.1  # ... and random crop / pad back to image_size
    flip_prob: float = 0.5  # with the left/right keypoint swap
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.0
    supervise_missing: bool = True  # a foot out of frame gets an all-zero target (weight 1), so scores tell presence
    flip_test: bool = True
    eval_split: str = "test"
