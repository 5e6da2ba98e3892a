"""SW training settings (params.yaml section `train.sw`); defaults follow the paper's §5 where it gives them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SWConfig:
    """What `shoemodel train sw` needs; paper values noted, the sample run overrides sizes and steps."""

    data: str = "data/sets/shoe_leg"  # shoe-leg set (shards)
    base_model: str = "tiny"  # local SD 1.5 path (diffusers folder or single .safetensors/.ckpt), or "tiny" (random, tests)
    base_config: str | None = None  # diffusers-layout config folder for a single-file base (offline from_single_file)
    controlnet_init: str | None = None  # start from a saved ControlNet instead of copying the UNet encoder
    output_dir: str = "models/sw"
    resolution: int = 512  # paper: random 512x512 crops
    train_batch_size: int = 4  # per device; paper: 128 in total on 8 GPUs
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-5  # paper
    max_train_steps: int = 500_000  # paper
    lr_warmup_steps: int = 0
    adam_weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"  # "no" | "fp16" | "bf16"
    gradient_checkpointing: bool = False
    use_8bit_adam: bool = False  # needs bitsandbytes
    random_flip: bool = True  # horizontal flip with left/right keypoint swap
    caption_template: str = "a photo of a person wearing shoes"  # used when a record has no caption
    empty_prompt_prob: float = 0.05  # drop the caption sometimes so classifier-free guidance has an unconditional
    checkpointing_steps: int = 5000
    checkpoints_total_limit: int = 3
    resume: bool = True  # continue from the newest checkpoint in output_dir
    validation_steps: int = 5000
    num_validation_images: int = 2
    validation_inference_steps: int = 20
    shuffle_buffer: int = 256
    seed: int = 0
    torch_threads: int = 0  # CPU threads for torch (0: torch's default); 1 avoids thrashing on a shared small machine
