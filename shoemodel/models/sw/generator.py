"""SW inference: a diffusers StableDiffusionControlNetPipeline with DDIM and CFG 7.0 (paper §5) on X_w ⊕ X_p."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.models.runtime import prepare_imports
from shoemodel.models.sw.base import BaseModel, load_base_model
from shoemodel.models.sw.condition import condition_array
from shoemodel.models.weights import require_weights

META_FILE = "sw.json"  # written next to the trained ControlNet: base model path, resolution, scale


def diffusers_pipeline(base: BaseModel, controlnet: Any) -> Any:
    """Assemble the diffusers pipeline from loaded parts (DDIM sampler, no safety checker)."""
    prepare_imports()
    from diffusers import DDIMScheduler, StableDiffusionControlNetPipeline

    return StableDiffusionControlNetPipeline(
        vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet, controlnet=controlnet,
        scheduler=DDIMScheduler.from_config(base.scheduler.config), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)


class SWGenerator:
    """Generates shoe-wearing images from X_w, a list of pose images X_p and a prompt (before paste-back)."""

    def __init__(self, pipeline: Any, resolution: int, meta: dict[str, Any] | None = None):
        self.pipeline = pipeline
        self.resolution = resolution
        self.meta = dict(meta or {})

    @classmethod
    def from_pretrained(cls, sw_dir: str | Path, device: str = "cpu") -> SWGenerator:
        """Load a trained SW folder (controlnet/ + sw.json naming the base model path)."""
        prepare_imports()
        from diffusers import ControlNetModel

        sw_dir = require_weights(sw_dir, "trained SW folder")
        meta = json.loads(require_weights(Path(sw_dir) / META_FILE, "SW metadata").read_text())
        base_path = Path(meta["base_model"])
        if not base_path.is_absolute() and (Path(sw_dir) / base_path).exists():  # stored relative to the SW folder
            base_path = Path(sw_dir) / base_path
        base = load_base_model(base_path, meta.get("base_config"))
        controlnet = ControlNetModel.from_pretrained(require_weights(Path(sw_dir) / "controlnet", "ShoeControlNet weights"))
        pipe = diffusers_pipeline(base, controlnet).to(device)
        pipe.set_progress_bar_config(disable=True)
        return cls(pipe, int(meta["resolution"]), meta)

    def generate(self, x_w: np.ndarray, poses: list[np.ndarray], prompt: str, *, negative_prompt: str | None = None,
                 steps: int = 50, guidance: float = 7.0, seed: int = 0) -> list[np.ndarray]:
        """One image per pose X_p (uint8 HxWx3, same size as X_w); seeds seed, seed+1, ... per image."""
        import torch

        if not poses:
            return []
        h, w = x_w.shape[:2]
        if h % 8 or w % 8:
            raise ValueError(f"X_w size {w}x{h} must be a multiple of 8")
        device = self.pipeline.device
        cond = torch.from_numpy(np.stack([condition_array(x_w, p) for p in poses])).to(device)
        generators = [torch.Generator(device="cpu").manual_seed(seed + i) for i in range(len(poses))]
        out = self.pipeline(prompt=[prompt] * len(poses), image=cond, height=h, width=w, num_inference_steps=steps,
                            guidance_scale=guidance, negative_prompt=[negative_prompt] * len(poses) if negative_prompt else None,
                            generator=generators, output_type="np").images
        return [np.clip(np.round(img * 255), 0, 255).astype(np.uint8) for img in out]
