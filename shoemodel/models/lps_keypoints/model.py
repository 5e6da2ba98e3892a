"""A ViTPose model (transformers VitPose classes) predicting 8 foot heatmaps from the whole shoe image."""

from __future__ import annotations

from typing import Any

from shoemodel.models.runtime import prepare_imports
from shoemodel.schemas.keypoints import FOOT_NAMES

#: ViTPose backbone sizes (ViT-S/B/L/H as in ViTPose), plus a tiny one for tests and the CPU sample.
VITPOSE_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(patch_size=[8, 8], hidden_size=64, num_hidden_layers=4, num_attention_heads=4, mlp_ratio=2),
    "small": dict(patch_size=[16, 16], hidden_size=384, num_hidden_layers=12, num_attention_heads=12, mlp_ratio=4),
    "base": dict(patch_size=[16, 16], hidden_size=768, num_hidden_layers=12, num_attention_heads=12, mlp_ratio=4),
    "large": dict(patch_size=[16, 16], hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, mlp_ratio=4),
    "huge": dict(patch_size=[16, 16], hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, mlp_ratio=4),
}


def vitpose_config(model_size: str, image_size: int) -> Any:
    prepare_imports()
    from transformers import VitPoseBackboneConfig, VitPoseConfig

    if model_size not in VITPOSE_PRESETS:
        raise ValueError(f"unknown ViTPose size '{model_size}'; known: {sorted(VITPOSE_PRESETS)}")
    preset = dict(VITPOSE_PRESETS[model_size])
    if image_size % preset["patch_size"][0]:
        raise ValueError(f"image_size {image_size} must be a multiple of the patch size {preset['patch_size'][0]}")
    backbone = VitPoseBackboneConfig(image_size=[image_size, image_size], out_indices=[preset["num_hidden_layers"]],
                                     **preset)
    return VitPoseConfig(backbone_config=backbone, use_simple_decoder=True, num_labels=len(FOOT_NAMES),
                         id2label=dict(enumerate(FOOT_NAMES)), label2id={n: i for i, n in enumerate(FOOT_NAMES)})


def build_vitpose(model_size: str, image_size: int) -> Any:
    prepare_imports()
    from transformers import VitPoseForPoseEstimation

    return VitPoseForPoseEstimation(vitpose_config(model_size, image_size))


def heatmap_size(model_size: str, image_size: int) -> int:
    """Heatmap side: tokens per side times the simple decoder's upsampling (4)."""
    return image_size // VITPOSE_PRESETS[model_size]["patch_size"][0] * 4
