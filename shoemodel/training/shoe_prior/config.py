"""Shoe prior training configuration (params section `train.shoe_prior`): the defaults are the shipped model's run
(the CCP fixture photos' train split, pose crops from the offline-default pose, a tiny UNet on 96 px crops)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shoemodel.config import ParamPath
from shoemodel.training.common import LoopConfig


@dataclass
class ShoePriorConfig(LoopConfig):
    ccp_root: ParamPath = "../shared/fixtures/images/ccp"  # photos/NNNN.jpg + labels/NNNN.png (Clothing Co-Parsing)
    split_file: ParamPath = "benchmarks/curation/ccp_split.json"  # the committed train/val/test ids
    train_split: str = "train"  # or "train+val": the shipped refit, after the recipe was chosen on val
    eval_split: str = "val"  # thresholds and checkpoints are chosen here, never on test
    pose_cache: ParamPath = "data/shoe_prior/ccp_pose.json"  # offline-default detect + pose per photo (made when absent)
    crop_source: str = "pose"  # pose: crops from the pose's foot points (GT-box crop where pose kept no one) | gt_box
    output_dir: ParamPath = "models/shoe_prior"  # model.safetensors + card.json (ship: shoemodel/models/shoe_prior/weights)
    metrics_dir: ParamPath = "metrics/shoe_prior"
    size: int = 96  # crop side in pixels
    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 96])  # the shipped run
    stem: int = 2
    fine: int = 8
    points_channel: bool = False  # a 4th input: blobs on the foot points
    jitter_shift: float = 0.12  # crop centre moves up to this x the side
    jitter_scale: float = 0.25  # crop side x exp(+-this)
    flip_prob: float = 0.5
    color_jitter: float = 0.25  # brightness / contrast / saturation, each x (1 +- this)
    hard_negative_weight: float = 0.0  # BCE weight 1 + this on skin, tights, socks, trousers (ccp.HARD_NEGATIVES)
    negative_prob: float = 0.0  # share of samples cut one crop side higher (shins, knees: mostly no shoe)
    dice_weight: float = 1.0  # loss = BCE + dice_weight x soft Dice
    steps: int = 3000  # the shipped run (weights/card.json; 900 gave val mean IoU 0.69, 3000 0.73, 4500 0.74)
    batch_size: int = 16
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 10
    lr_scheduler: str = "cosine"
    cpu_threads: int = 1
    log_every: int = 10
