"""Load the frozen SD 1.5 parts by local path and build the 6-channel ShoeControlNet from the UNet."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoemodel.models.runtime import prepare_imports
from shoemodel.models.weights import require_weights

#: ControlNet's conditioning embedding for SD (three stride-2 convs: pixel -> latent size at VAE factor 8).
SD_CONDITIONING_CHANNELS: tuple[int, ...] = (16, 32, 96, 256)
CONDITIONING_CHANNELS = 6  # X_w (3) ⊕ X_p (3)


@dataclass
class BaseModel:
    """The frozen parts of SD 1.5 plus its tokenizer and noise scheduler."""

    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    path: str

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)



def load_base_model(path: str | Path, config: str | Path | None = None) -> BaseModel:
    """Load SD 1.5 from a diffusers folder or a single .safetensors/.ckpt file (then `config` = a diffusers folder)."""
    prepare_imports()
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    p = require_weights(path, "Stable Diffusion 1.5 base model")
    if p.is_file():
        from diffusers import StableDiffusionPipeline

        if config is None:
            raise ValueError(f"{p} is a single file: offline it also needs `base_config`, a folder with the diffusers "
                             "component configs (model_index.json, */config.json, tokenizer files) of SD 1.5")
        kwargs: dict[str, Any] = {"local_files_only": True, "safety_checker": None, "requires_safety_checker": False,
                                  "config": str(require_weights(config, "diffusers config folder for the single-file base"))}
        pipe = StableDiffusionPipeline.from_single_file(str(p), **kwargs)
        scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        return BaseModel(pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer, scheduler, str(p))
    for sub in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        require_weights(p / sub, f"'{sub}' folder of the diffusers-layout base model")
    return BaseModel(
        unet=UNet2DConditionModel.from_pretrained(p, subfolder="unet"),
        vae=AutoencoderKL.from_pretrained(p, subfolder="vae"),
        text_encoder=CLIPTextModel.from_pretrained(p, subfolder="text_encoder"),
        tokenizer=CLIPTokenizer.from_pretrained(p, subfolder="tokenizer"),
        scheduler=DDPMScheduler.from_pretrained(p, subfolder="scheduler"),
        path=str(p),
    )


def conditioning_embedding_channels(vae_scale_factor: int) -> tuple[int, ...]:
    """SD's conditioning-embedding widths, trimmed so its downsampling equals the VAE's (8 for SD, less for tiny)."""
    n_down = int(math.log2(vae_scale_factor))
    if 2**n_down != vae_scale_factor or n_down > len(SD_CONDITIONING_CHANNELS) - 1:
        raise ValueError(f"unsupported VAE scale factor {vae_scale_factor}")
    return SD_CONDITIONING_CHANNELS[: n_down + 1]


def make_controlnet(base: BaseModel, init: str | Path | None = None) -> Any:
    """The ShoeControlNet: a copy of the UNet encoder whose hint input takes X_w ⊕ X_p (6 channels)."""
    prepare_imports()
    from diffusers import ControlNetModel

    if init is not None:
        net = ControlNetModel.from_pretrained(require_weights(init, "ShoeControlNet checkpoint"))
        if net.config.conditioning_channels != CONDITIONING_CHANNELS:
            raise ValueError(f"{init}: conditioning_channels={net.config.conditioning_channels}, need {CONDITIONING_CHANNELS}")
        return net
    return ControlNetModel.from_unet(
        base.unet, conditioning_channels=CONDITIONING_CHANNELS,
        conditioning_embedding_out_channels=conditioning_embedding_channels(base.vae_scale_factor))
