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


#: RTMW-x 384x288's published signature: input `input` [N, 3, 384, 288], outputs simcc_x [N, 133, 576] and
#: simcc_y [N, 133, 768] (split ratio 2), as mmdeploy's SimCC ONNX configs export it.
RTMW_INPUT_HW = (384, 288)
RTMW_SPLIT = 2.0


def tiny_rtmw_module(num_keypoints: int = 133, input_hw: tuple[int, int] = RTMW_INPUT_HW, split: float = RTMW_SPLIT,
                     peaks: Any = None, seed: int = 0) -> Any:
    """A tiny torch stand-in shaped like RTMW's SimCC head: pooled features -> one token per keypoint ->
    separate x / y classifiers over W*split and H*split bins. Random weights; `peaks` ((K, 2) crop pixels)
    adds a strong bias at those bins, so a test knows where each point must land."""
    import torch

    h, w = input_hw
    lx, ly, tok = int(w * split), int(h * split), 16

    class TinySimCC(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = torch.nn.Conv2d(3, 4, 8, 8)
            self.pool = torch.nn.AdaptiveAvgPool2d((4, 3))
            self.tokens = torch.nn.Linear(4 * 4 * 3, num_keypoints * tok)
            self.cls_x = torch.nn.Linear(tok, lx)
            self.cls_y = torch.nn.Linear(tok, ly)

        def forward(self, x: Any) -> tuple[Any, Any]:
            f = self.pool(self.stem(x)).flatten(1)
            t = self.tokens(f).reshape(x.shape[0], num_keypoints, tok)
            return self.cls_x(t) + self.bias_x, self.cls_y(t) + self.bias_y

    torch.manual_seed(seed)
    m = TinySimCC()
    bx, by = torch.zeros(num_keypoints, lx), torch.zeros(num_keypoints, ly)
    if peaks is not None:
        with torch.no_grad():
            for mod in (m.tokens, m.cls_x, m.cls_y):
                mod.weight.mul_(0.01)
                mod.bias.mul_(0.01)
        for k, (px, py) in enumerate(peaks):
            bx[k, int(round(px * split))] = 1.0
            by[k, int(round(py * split))] = 1.0
    m.register_buffer("bias_x", bx)
    m.register_buffer("bias_y", by)
    return m.eval()


def write_tiny_rtmw_onnx(path: Path, dynamic_batch: bool = True, **kw: Any) -> Path:
    """`tiny_rtmw_module` exported to ONNX with RTMW's input / output names and SimCC shapes."""
    import torch

    m = tiny_rtmw_module(**kw)
    h, w = kw.get("input_hw", RTMW_INPUT_HW)
    axes = {"input": {0: "batch"}, "simcc_x": {0: "batch"}, "simcc_y": {0: "batch"}} if dynamic_batch else None
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(m, (torch.zeros(1, 3, h, w),), str(path), input_names=["input"], output_names=["simcc_x", "simcc_y"],
                      dynamic_axes=axes, dynamo=False, opset_version=17)
    return path


def standing_leg_peaks(input_hw: tuple[int, int] = RTMW_INPUT_HW, num_keypoints: int = 133) -> Any:
    """Crop-pixel positions of a standing person's hips, knees, ankles and feet (COCO-WholeBody 11-22) in a
    top-down crop (box = the middle 80% of the crop's height after mmpose's 1.25 padding); other points centred."""
    import numpy as np

    h, w = input_hw
    p = np.tile([[w / 2, h / 2]], (num_keypoints, 1)).astype(np.float32)
    frac = {11: (-0.06, 0.50), 12: (0.06, 0.50), 13: (-0.06, 0.68), 14: (0.06, 0.68), 15: (-0.06, 0.84), 16: (0.06, 0.84),
            17: (-0.10, 0.88), 18: (-0.12, 0.87), 19: (-0.05, 0.86), 20: (0.10, 0.88), 21: (0.12, 0.87), 22: (0.05, 0.86)}
    for k, (fx, fy) in frac.items():
        p[k] = (w / 2 + fx * w, fy * h)
    return p


def tiny_hf_sam_hq() -> Any:
    """transformers' SamHQModel (HQ-SAM) at a tiny size (random weights), for tests."""
    from shoemodel.compat.torchvision import ensure_torchvision

    ensure_torchvision()
    from transformers import (
        SamHQConfig,
        SamHQMaskDecoderConfig,
        SamHQModel,
        SamHQPromptEncoderConfig,
        SamHQVisionConfig,
    )

    vision = SamHQVisionConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, output_channels=32, image_size=256,
                               patch_size=16, window_size=4, global_attn_indexes=[1], mlp_dim=64, num_pos_feats=16)
    prompt = SamHQPromptEncoderConfig(hidden_size=32, image_size=256, patch_size=16, mask_input_channels=4)
    decoder = SamHQMaskDecoderConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, mlp_dim=64,
                                     iou_head_hidden_dim=32, vit_dim=32)
    return SamHQModel(SamHQConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)).eval()


def tiny_hf_sam2() -> Any:
    """transformers' Sam2Model (SAM 2.1 layout: Hiera backbone + FPN) at a tiny size (random weights), for tests."""
    from shoemodel.compat.torchvision import ensure_torchvision

    ensure_torchvision()
    from transformers import (
        Sam2Config,
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2Model,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    size = 128
    hiera = Sam2HieraDetConfig(hidden_size=8, num_attention_heads=1, image_size=[size, size], blocks_per_stage=[1, 1, 2, 1],
                               embed_dim_per_stage=[8, 16, 32, 64], num_attention_heads_per_stage=[1, 1, 2, 2],
                               window_size_per_stage=[4, 4, 4, 4], global_attention_blocks=[3],
                               window_positional_embedding_background_size=[2, 2])
    vision = Sam2VisionConfig(backbone_config=hiera, backbone_channel_list=[64, 32, 16, 8],
                              backbone_feature_sizes=[[size // 4, size // 4], [size // 8, size // 8], [size // 16, size // 16]],
                              fpn_hidden_size=32)
    prompt = Sam2PromptEncoderConfig(hidden_size=32, image_size=size, patch_size=16, mask_input_channels=4)
    decoder = Sam2MaskDecoderConfig(hidden_size=32, mlp_dim=64, num_hidden_layers=1, num_attention_heads=2, iou_head_hidden_dim=32)
    return Sam2Model(Sam2Config(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)).eval()


_UNET_RESNET = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
                ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection"))
_VAE_ATTN = (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out"))


def _unet_to_ldm(key: str, layers: int, attn_up: set[int]) -> str:
    """A diffusers UNet2DConditionModel key -> the original SD (LDM) `model.diffusion_model.*` name."""
    import re

    fixed = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
             "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}
    head, _, leaf = key.rpartition(".")
    if head in fixed:
        return f"{fixed[head]}.{leaf}"

    def resnet(rest: str) -> str:
        for a, b in _UNET_RESNET:
            if rest.startswith(a + "."):
                return b + rest[len(a):]
        return rest

    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        i, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        n = 1 + i * (layers + 1) + j
        return f"input_blocks.{n}.0.{resnet(rest)}" if kind == "resnets" else f"input_blocks.{n}.1.{rest}"
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        return f"input_blocks.{(int(m[1]) + 1) * (layers + 1)}.0.op.{m[2]}"
    if m := re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key):
        return f"middle_block.{2 * int(m[2])}.{resnet(m[3])}" if m[1] == "resnets" else f"middle_block.1.{m[3]}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        n = int(m[1]) * (layers + 1) + int(m[3])
        return f"output_blocks.{n}.0.{resnet(m[4])}" if m[2] == "resnets" else f"output_blocks.{n}.1.{m[4]}"
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
        i = int(m[1])
        return f"output_blocks.{i * (layers + 1) + layers}.{2 if i in attn_up else 1}.conv.{m[2]}"
    raise KeyError(key)


def _vae_to_ldm(key: str, n_blocks: int) -> str:
    """A diffusers AutoencoderKL key -> the original SD `first_stage_model.*` name (decoder blocks count down)."""
    import re

    key = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
    if m := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{m[3]}"
    if m := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.*)", key):
        return f"encoder.down.{m[1]}.downsample.{m[2]}"
    if m := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
        return f"decoder.up.{n_blocks - 1 - int(m[1])}.block.{m[2]}.{m[3]}"
    if m := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.*)", key):
        return f"decoder.up.{n_blocks - 1 - int(m[1])}.upsample.{m[2]}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)", key):
        rest = m[2]
        for a, b in _VAE_ATTN:
            if rest.startswith(a + "."):
                rest = b + rest[len(a):]
        return f"{m[1]}.mid.attn_1.{rest}"
    return key


def write_sd_single_file(base_dir: Path, out: Path) -> Path:
    """A diffusers SD folder written as one original-layout `.safetensors` (model.diffusion_model.*,
    first_stage_model.*, cond_stage_model.transformer.*), as SD 1.5's v1-5-pruned-emaonly.safetensors is."""
    import torch
    from safetensors.torch import save_file

    from shoemodel.models.sw.base import load_base_model

    base = load_base_model(base_dir)
    layers = base.unet.config.layers_per_block
    attn_up = {i for i, t in enumerate(base.unet.config.up_block_types) if "CrossAttn" in t}
    sd: dict[str, Any] = {}
    for k, v in base.unet.state_dict().items():
        sd["model.diffusion_model." + _unet_to_ldm(k, layers, attn_up)] = v
    n = len(base.vae.config.block_out_channels)
    for k, v in base.vae.state_dict().items():
        name = _vae_to_ldm(k, n)
        if ".mid.attn_1." in name and v.ndim == 2:  # the original attention projections are 1x1 convs
            v = v[:, :, None, None]
        sd["first_stage_model." + name] = v
    from safetensors.torch import load_file

    for k, v in load_file(str(Path(base_dir) / "text_encoder" / "model.safetensors")).items():
        sd["cond_stage_model.transformer." + ("" if k.startswith("text_model.") else "text_model.") + k] = v
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() if isinstance(v, torch.Tensor) else v for k, v in sd.items()}, str(out))
    return out
