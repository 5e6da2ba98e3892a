"""Tiny randomly initialised SD-1.5-shaped base model, written in diffusers layout, for CPU tests and the sample run.

It has the same classes as SD 1.5 (UNet2DConditionModel, AutoencoderKL, CLIPTextModel, CLIPTokenizer,
DDPMScheduler), so every code path that loads a real base model by local path is exercised; only the
sizes differ. transformers 5 dropped `bytes_to_unicode`, so the byte-level BPE vocabulary is built here.
"""

from __future__ import annotations

import json
from pathlib import Path

from shoemodel.models.runtime import prepare_imports

#: Words given whole-word tokens in the tiny vocabulary (others fall back to single characters).
_WORDS = ("a", "photo", "of", "person", "wearing", "shoes", "shoe", "legs", "sneakers", "boots", "street", "on", "the")


def byte_unicode_table() -> dict[int, str]:
    """GPT-2/CLIP byte-to-unicode map: printable bytes map to themselves, the rest to code points 256+."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, (chr(c) for c in chars), strict=True))


def write_tiny_tokenizer(folder: str | Path) -> Path:
    """Write vocab.json / merges.txt of a small CLIP BPE vocabulary (all bytes + a few words) and load-ready config."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(byte_unicode_table().values())
    tokens = chars + [c + "</w>" for c in chars]
    merges: list[str] = []
    for word in _WORDS:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append(f"{pieces[0]} {pieces[1]}")
            merged = pieces[0] + pieces[1]
            tokens.append(merged)
            pieces = [merged] + pieces[2:]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    return folder


def make_tiny_base_model(folder: str | Path, resolution: int = 64, seed: int = 0, unet_in_channels: int = 4) -> Path:
    """Build and save a tiny random base model (diffusers layout) at `folder`; returns the folder.

    The VAE downsamples 4x (SD: 8x), so a 64 px image is a 16x16 latent: cheap on 2 CPU cores.
    `unet_in_channels=9` makes an SD-inpainting-shaped base (latent + mask + masked-image latent).
    """
    prepare_imports()
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer_dir = write_tiny_tokenizer(folder / "tokenizer")
    tokenizer = CLIPTokenizer(str(tokenizer_dir / "vocab.json"), str(tokenizer_dir / "merges.txt"), model_max_length=77)
    tokenizer.save_pretrained(tokenizer_dir)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, projection_dim=32, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3, norm_num_groups=4,
        sample_size=resolution)
    latent = resolution // 2 ** (len(vae.config.block_out_channels) - 1)
    unet = UNet2DConditionModel(
        sample_size=latent, in_channels=unet_in_channels, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=(2, 4), norm_num_groups=8)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, steps_offset=1)
    for name, module in (("unet", unet), ("vae", vae), ("text_encoder", text_encoder), ("scheduler", scheduler)):
        module.save_pretrained(folder / name)
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "DDPMScheduler"], "safety_checker": [None, None], "feature_extractor": [None, None],
        "requires_safety_checker": False, "shoemodel_tiny": True}, indent=1))
    return folder
