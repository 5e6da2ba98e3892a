"""SW training settings (params.yaml section `train.sw`); defaults follow the paper's §5 where it gives them.

The loop knobs are the shared `LoopConfig` ones (the same names as WD and LpS); only what is SW's own
is added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from shoemodel.config import ParamPath, PathParam
from shoemodel.training.common import LoopConfig


@dataclass
class SWConfig(LoopConfig):
    """What `shoemodel train sw` needs; paper values noted, the sample run overrides sizes and steps."""

    train_set: ParamPath = "data/sets/train/shoe_leg"  # the merged shoe-leg set (merge.shoe_leg.out)
    output_dir: ParamPath = "models/sw"
    metrics_dir: ParamPath = "metrics/sw"
    steps: int = 500_000  # paper
    batch_size: int = 4  # per device and micro-batch; paper: 128 in total on 8 GPUs
    learning_rate: float = 1e-5  # paper
    weight_decay: float = 1e-2
    lr_scheduler: str = "constant_with_warmup"
    warmup_steps: int = 0
    num_workers: int = 4  # decoding and cropping 512 px photos keeps a GPU waiting without workers
    checkpoint_every: int = 5000
    validation_every: int = 5000
    # local SD 1.5 path (diffusers folder or single .safetensors/.ckpt), or "tiny" (random, tests and sample run)
    base_model: Annotated[str, PathParam("tiny")] = "tiny"
    base_config: ParamPath = ""  # diffusers-layout config folder for a single-file base (offline from_single_file)
    controlnet_init: ParamPath = ""  # start from a saved ControlNet instead of copying the UNet encoder
    resolution: int = 512  # paper: random 512x512 crops
    mixed_precision: str = "auto"  # bf16 autocast on a GPU that supports it, fp32 on CPU
    gradient_checkpointing: bool = False  # ControlNet activations recomputed in backward: less memory, ~20% slower
    use_8bit_adam: bool = False  # needs bitsandbytes
    # --- fast path (each applies where the hardware supports it; see docs/generate.md) ---
    latent_cache: ParamPath = ""  # folder of precomputed VAE latents + text embeddings ("" = encode in the loop)
    cache_variants: int = 4  # crop/flip variants cached per record (the loop draws one per sample)
    cache_dtype: str = "float16"  # storage of the cached latent moments: float16 | bfloat16 | float32
    cache_batch_size: int = 16  # images per VAE call while building the cache
    attention: str = "sdpa"  # "sdpa" (torch scaled_dot_product_attention: flash / memory-efficient kernels) | "eager"
    channels_last: bool = True  # NHWC memory format for UNet + ControlNet convolutions (GPU only)
    compile: bool = True  # torch.compile the UNet + ControlNet (GPU only; off on CPU)
    random_flip: bool = True  # horizontal flip with left/right keypoint swap
    caption_template: str = "a photo of a person wearing shoes"  # used when a record has no caption
    empty_prompt_prob: float = 0.05  # drop the caption sometimes so classifier-free guidance has an unconditional
    num_validation_images: int = 2  # val records drawn in the validation grid every `validation_every` steps
    validation_inference_steps: int = 20
