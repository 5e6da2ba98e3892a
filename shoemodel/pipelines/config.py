"""Settings of `generate` and `benchmark` (their params sections).

Light on purpose: every command reads these classes (shoemodel.config_registry), so this module imports
nothing heavy and its edits rerun only what reads the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from shoemodel.config import ParamPath, PathParam


@dataclass
class BenchmarkConfig:
    """params.yaml section `benchmark`."""

    shoes: ParamPath = "data/sample/wearable_area/labels.jsonl"  # labels.jsonl (image, area_mask, split) or a folder of photos
    split: str = "test"
    max_shoes: int = 8
    use_wd: bool = True  # False: ground-truth area masks from the labels (isolates SW from WD errors)
    prompts: tuple[str, ...] = ("a photo of a person wearing shoes",)
    n_per_shoe: int = 2
    seed: int = 0
    steps: int = 50
    guidance: float = 7.0
    resolution: int | None = None  # default: the SW model's
    real: ParamPath = "data/sets/shoe_leg"  # reference photos (shoe-leg set) for FID / KID
    real_split: str = "test"
    max_real: int = 2000
    features: str = "inception"  # "inception" (weights below) | "tiny-random" (smoke runs; not comparable)
    inception_weights: ParamPath = "weights/pt_inception-2015-12-05-6726825d.pth"
    clip: Annotated[str, PathParam("tiny-random")] = "weights/clip-vit-large-patch14"  # a transformers folder, or "tiny-random"
    kid_subset_size: int = 1000
    out: ParamPath = "reports/benchmark"
    metrics: ParamPath = "metrics/benchmark/table3.json"
    device: str = "cpu"
    cpu_threads: int = 0  # >0: torch threads on CPU (the training key of the same name); 0: torch's default
    # ShoeModel
    sw: ParamPath = "models/sw"
    wd: ParamPath = "models/wd"
    lps_keypoints: ParamPath = "models/lps_keypoints"
    lps_diffusion: ParamPath = "models/lps_diffusion"
    # baselines (local diffusers folders)
    sd15: ParamPath = "weights/stable-diffusion-v1-5"
    sdxl: ParamPath = "weights/stable-diffusion-xl-base-1.0"
    sd15_inpaint: ParamPath = "weights/stable-diffusion-inpainting"
    controlnet_inpaint: ParamPath = "weights/control_v11p_sd15_inpaint"
    paint_by_example: ParamPath = "weights/paint-by-example"
    methods: tuple[str, ...] = ("SD1.5", "SDXL", "SD1.5-inpaint", "ControlNet-inpaint", "Paint-by-Example",
                                "ShoeModel (ours)")


@dataclass
class GenerateConfig:
    """params.yaml section `generate` (the CLI flags override it)."""

    sw: ParamPath = "models/sw"
    wd: ParamPath | None = "models/wd"  # None: no wearable-area detection, the whole foreground counts as visible
    lps_keypoints: ParamPath = "models/lps_keypoints"
    lps_diffusion: ParamPath = "models/lps_diffusion"
    sam_checkpoint: ParamPath | None = None
    sam_model_type: str = ""  # vit_b / vit_l / vit_h; empty: read from the file name or the checkpoint
    n: int = 4
    seed: int = 0
    steps: int = 50
    guidance: float = 7.0
    negative_prompt: str | None = None
    size: int | None = None  # output long side in px; None: the photo's own size (up to max_side)
    max_side: int = 4096  # larger photos are reduced to this long side on load (and the run says so)
    max_pixels: int = 250_000_000  # photos above this are refused from their header ("too large")
    work_side: int = 1024  # long side of the copy the foreground step and WD read
    layout: dict[str, float] = field(default_factory=dict)  # scale / rotate / tx / ty
    device: str = "cpu"
    cpu_threads: int = 0  # >0: torch threads on CPU (the training key of the same name); 0: torch's default
    out: ParamPath = "reports/generate"  # output folder (`shoemodel generate --out`)
