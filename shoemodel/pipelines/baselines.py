"""Table 3's baselines, each loaded from a local path with diffusers; absent weights are reported, never faked.

T2I (SD1.5, SDXL) get the prompt only. C2I methods get the shoe and the prompt (paper §5.1): the canvas
with the shoe kept and everything else to be painted (SD-inpaint, ControlNet-inpaint), or the shoe as the
example image (Paint-by-Example, which takes no prompt).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shoemodel.models.runtime import prepare_imports

#: Table 3's competency column.
SPECIFIED_SHOE = {"SD1.5": "Not Support", "SDXL": "Not Support", "SD1.5-inpaint": "Partial Support",
                  "ControlNet-inpaint": "Partial Support", "Paint-by-Example": "Partial Support",
                  "ShoeModel (ours)": "Support"}


@dataclass
class ShoeCondition:
    """One benchmark shoe on the canvas: what every method receives."""

    canvas: np.ndarray
    x_w: np.ndarray
    visible: np.ndarray
    classes: np.ndarray


Runner = Callable[[ShoeCondition, str, int, int], list[np.ndarray]]  # (shoe, prompt, n, seed) -> raw images


def _generators(n: int, seed: int) -> list[Any]:
    import torch

    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


def _uint8(images: Any) -> list[np.ndarray]:
    return [np.asarray(im.convert("RGB") if hasattr(im, "convert") else im, dtype=np.uint8) for im in images]


def _ddim(pipe: Any) -> Any:
    prepare_imports()
    from diffusers import DDIMScheduler

    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def missing(paths: list[str]) -> str | None:
    """The first path that does not exist, or None."""
    return next((p for p in paths if not Path(p).exists()), None)


def sd15_runner(path: str, steps: int, guidance: float, device: str = "cpu") -> Runner:
    prepare_imports()
    from diffusers import StableDiffusionPipeline

    pipe = _ddim(StableDiffusionPipeline.from_pretrained(path, safety_checker=None, requires_safety_checker=False)).to(device)

    def run(shoe: ShoeCondition, prompt: str, n: int, seed: int) -> list[np.ndarray]:
        h, w = shoe.x_w.shape[:2]
        return _uint8(pipe([prompt] * n, height=h, width=w, num_inference_steps=steps, guidance_scale=guidance,
                           generator=_generators(n, seed)).images)
    return run


def sdxl_runner(path: str, steps: int, guidance: float, device: str = "cpu") -> Runner:
    prepare_imports()
    from diffusers import StableDiffusionXLPipeline

    pipe = _ddim(StableDiffusionXLPipeline.from_pretrained(path)).to(device)

    def run(shoe: ShoeCondition, prompt: str, n: int, seed: int) -> list[np.ndarray]:
        h, w = shoe.x_w.shape[:2]
        return _uint8(pipe([prompt] * n, height=h, width=w, num_inference_steps=steps, guidance_scale=guidance,
                           generator=_generators(n, seed)).images)
    return run


def _repaint_mask(shoe: ShoeCondition) -> Image.Image:
    return Image.fromarray(np.where(shoe.visible, 0, 255).astype(np.uint8))


def sd15_inpaint_runner(path: str, steps: int, guidance: float, device: str = "cpu") -> Runner:
    prepare_imports()
    from diffusers import StableDiffusionInpaintPipeline

    pipe = _ddim(StableDiffusionInpaintPipeline.from_pretrained(path, safety_checker=None,
                                                                requires_safety_checker=False)).to(device)

    def run(shoe: ShoeCondition, prompt: str, n: int, seed: int) -> list[np.ndarray]:
        h, w = shoe.x_w.shape[:2]
        return _uint8(pipe([prompt] * n, image=Image.fromarray(shoe.x_w), mask_image=_repaint_mask(shoe), height=h,
                           width=w, num_inference_steps=steps, guidance_scale=guidance, generator=_generators(n, seed)).images)
    return run


def controlnet_inpaint_runner(base: str, controlnet: str, steps: int, guidance: float, device: str = "cpu") -> Runner:
    prepare_imports()
    import torch
    from diffusers import ControlNetModel, StableDiffusionControlNetInpaintPipeline

    pipe = _ddim(StableDiffusionControlNetInpaintPipeline.from_pretrained(
        base, controlnet=ControlNetModel.from_pretrained(controlnet), safety_checker=None,
        requires_safety_checker=False)).to(device)

    def run(shoe: ShoeCondition, prompt: str, n: int, seed: int) -> list[np.ndarray]:
        h, w = shoe.x_w.shape[:2]
        control = torch.from_numpy(shoe.x_w.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        control[:, :, ~torch.from_numpy(shoe.visible)] = -1.0  # the inpaint ControlNet's "to paint" marker
        return _uint8(pipe([prompt] * n, image=Image.fromarray(shoe.x_w), mask_image=_repaint_mask(shoe),
                           control_image=control, height=h, width=w, num_inference_steps=steps, guidance_scale=guidance,
                           generator=_generators(n, seed)).images)
    return run


def paint_by_example_runner(path: str, steps: int, guidance: float, device: str = "cpu") -> Runner:
    prepare_imports()
    from diffusers import AutoencoderKL, DDIMScheduler, PaintByExamplePipeline, UNet2DConditionModel
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import CLIPImageProcessor

    # assembled part by part: diffusers 0.4x moved the pipeline to `deprecated` and can no longer resolve the
    # image encoder's class from model_index.json
    pipe = _ddim(PaintByExamplePipeline(
        vae=AutoencoderKL.from_pretrained(path, subfolder="vae"),
        image_encoder=PaintByExampleImageEncoder.from_pretrained(path, subfolder="image_encoder"),
        unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet"),
        scheduler=DDIMScheduler.from_pretrained(path, subfolder="scheduler"), safety_checker=None,
        feature_extractor=CLIPImageProcessor.from_pretrained(path, subfolder="feature_extractor"),
        requires_safety_checker=False)).to(device)

    def run(shoe: ShoeCondition, prompt: str, n: int, seed: int) -> list[np.ndarray]:
        ys, xs = np.nonzero(shoe.visible)
        example = Image.fromarray(shoe.x_w[ys.min():ys.max() + 1, xs.min():xs.max() + 1])
        out = []
        for i in range(n):  # PaintByExample takes one example image per call
            out += _uint8(pipe(image=Image.fromarray(shoe.x_w), mask_image=_repaint_mask(shoe), example_image=example,
                               num_inference_steps=steps, guidance_scale=guidance,
                               generator=_generators(1, seed + i)[0]).images)
        return out
    return run
