"""WD configuration (params.yaml `train.wd`). Defaults are the paper's real run (§5); params.yaml holds
the tiny CPU settings the sample pipeline uses."""

from __future__ import annotations

from dataclasses import dataclass

from shoemodel.config import ParamPath
from shoemodel.training.common import LoopConfig


@dataclass
class WDConfig(LoopConfig):
    train_set: ParamPath = "data/sets/train/wearable_area"  # the merged set (merge.wearable_area.out)
    output_dir: ParamPath = "models/wd"
    metrics_dir: ParamPath = "metrics/wd"
    steps: int = 160_000
    batch_size: int = 16  # the paper: 16 over 4 GPUs
    learning_rate: float = 6e-5
    lr_scheduler: str = "polynomial"
    warmup_steps: int = 1500
    mixed_precision: str = "bf16"
    num_workers: int = 8
    model_size: str = "b2"  # tiny | b0..b5 (MiT sizes; the paper does not say which)
    pretrained: ParamPath = ""  # folder of a Segformer/MiT checkpoint (from_pretrained, e.g. nvidia/mit-b2 ImageNet weights); "" = random init
    two_class: bool = False  # Table 5 ablation: wearable vs other
    input: str = "photo"  # "photo": the product photo with its own background (WD finds it); "shoe_on_black": X_m
    background_prob: float = 0.7  # photo input: chance of a random backdrop (white to black) behind the shoe
    image_size: int = 640
    crop_to_content: bool = True  # fit X_m's non-black box to the canvas (train and inference alike)
    crop_margin: float = 0.1
    mosaic_prob: float = 0.8
    rotate_prob: float = 0.5
    rotate_deg: float = 15.0
    scale_min: float = 0.5
    scale_max: float = 2.0
    flip_prob: float = 0.5  # not in the paper; mmseg's default pipeline has it, and it is label-safe here
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    hue: float = 0.05
    class_weights: tuple[float, ...] = ()  # () = plain cross-entropy as in the paper; else one weight per class
    eval_split: str = "test"
