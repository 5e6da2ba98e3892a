"""Tiny, randomly initialised instances of the real model classes the project loads (SAM, ViTPose, LpS, SW).

They are saved in the published layout by the tests and loaded back through the user's path, so the
loading code is exercised without any hub download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_sam() -> Any:
    """The real segment-anything Sam class at a tiny size (random weights), for tests."""
    from functools import partial

    import torch

    from shoemodel.compat.torchvision import ensure_torchvision

    ensure_torchvision()
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    img, emb = 256, 64
    enc = ImageEncoderViT(img_size=img, patch_size=16, embed_dim=64, depth=2, num_heads=2, mlp_ratio=2, out_chans=emb,
                          qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True,
                          window_size=4, global_attn_indexes=(1,))
    pe = PromptEncoder(embed_dim=emb, image_embedding_size=(img // 16, img // 16), input_image_size=(img, img), mask_in_chans=8)
    dec = MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(depth=1, embedding_dim=emb, mlp_dim=128, num_heads=2),
                      transformer_dim=emb, iou_head_depth=2, iou_head_hidden_dim=32)
    return Sam(image_encoder=enc, prompt_encoder=pe, mask_decoder=dec).eval()


def tiny_hf_sam() -> Any:
    """transformers' SamModel at a tiny size (random weights), for tests."""
    from shoemodel.compat.torchvision import ensure_torchvision

    ensure_torchvision()
    from transformers import SamConfig, SamMaskDecoderConfig, SamModel, SamPromptEncoderConfig, SamVisionConfig

    vision = SamVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, output_channels=32, image_size=256,
                             patch_size=16, window_size=4, global_attn_indexes=[1], mlp_dim=64, num_pos_feats=16)
    prompt = SamPromptEncoderConfig(hidden_size=32, image_size=256, patch_size=16, mask_input_channels=4)
    decoder = SamMaskDecoderConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, mlp_dim=64, iou_head_hidden_dim=32)
    return SamModel(SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)).eval()


def tiny_vitpose(num_labels: int = 133, num_experts: int = 1) -> Any:
    """The real VitPoseForPoseEstimation class at a tiny size with random weights (tests, smoke runs)."""
    from shoemodel.compat.torchvision import ensure_torchvision

    ensure_torchvision()
    from transformers import VitPoseForPoseEstimation

    return VitPoseForPoseEstimation(tiny_vitpose_config(num_labels, num_experts)).eval()


def tiny_vitpose_config(num_labels: int = 133, num_experts: int = 1) -> Any:
    """A small VitPose config: 2 layers, width 32, 64x48 input."""
    from transformers import VitPoseBackboneConfig, VitPoseConfig

    backbone = VitPoseBackboneConfig(image_size=[64, 48], patch_size=[16, 16], hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, mlp_ratio=2, num_experts=num_experts, part_features=8,
                                     out_indices=[2])
    return VitPoseConfig(backbone_config=backbone, num_labels=num_labels, use_simple_decoder=True)


def tiny_leg_pose_sampler(hidden_size: int = 32, num_blocks: int = 1, seed: int = 0, **kw: Any) -> Any:
    """An untrained LpS phase-2 sampler: a small denoiser, 25 diffusion steps, on the CPU."""
    import torch

    from shoemodel.models.lps_diffusion.model import LegPoseDenoiser
    from shoemodel.models.lps_diffusion.sampler import LegPoseSampler

    torch.manual_seed(seed)
    return LegPoseSampler(LegPoseDenoiser(hidden_size, num_blocks, 16), {"num_train_timesteps": 25}, "cpu", **kw)


#: Side of the tiny SW model's square canvas.
TINY_SW_SIZE = 32


def write_tiny_sw_folder(root: Path, resolution: int = TINY_SW_SIZE) -> Path:
    """A trained-by-nobody SW folder: tiny random base + random 6-channel ControlNet, saved as training saves it."""
    import json

    from shoemodel.models.sw.base import load_base_model, make_controlnet
    from shoemodel.models.sw.generator import META_FILE
    from shoemodel.models.sw.tiny import make_tiny_base_model

    base_dir = make_tiny_base_model(root / "base", resolution=resolution)
    make_controlnet(load_base_model(base_dir)).save_pretrained(root / "controlnet")
    (root / META_FILE).write_text(json.dumps({"base_model": str(base_dir), "resolution": resolution}))
    return root
