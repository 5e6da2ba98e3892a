"""WD inference: X_m (shoe on black) -> per-pixel class ids, and X_w (visible area only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from shoemodel.models import geometry as G
from shoemodel.models.checkpoint import read_pretrained_folder
from shoemodel.models.device import resolve_device
from shoemodel.models.wd.model import build_segformer
from shoemodel.schemas.classes import VISIBLE, WEARABLE


class WDPredictor:
    """Wraps a trained Segformer; `predict` always answers in the 3 classes of `shoemodel.schemas.classes`."""

    def __init__(self, model: torch.nn.Module, image_size: int, *, two_class: bool = False, device: str | None = None,
                 crop_to_content: bool = True, crop_margin: float = 0.1, reads: str = "shoe_on_black",
                 meta: dict | None = None):
        self.reads = reads  # what it was trained on: "photo" (as given, with its background) or "shoe_on_black" (X_m)
        self.meta = dict(meta or {})
        self.device = device or resolve_device()
        self.model = model.to(self.device).eval()
        self.image_size, self.two_class = int(image_size), bool(two_class)
        self.crop_to_content, self.crop_margin = bool(crop_to_content), float(crop_margin)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None) -> WDPredictor:
        """Load a folder written by `shoemodel train wd` (Segformer config.json + model.safetensors)."""
        model, extra = read_pretrained_folder("SegformerForSemanticSegmentation", path, "WD checkpoint",
                                              "`shoemodel train wd` (or `dvc repro train_wd`)")
        return cls(model, extra.get("image_size", 512), two_class=extra.get("two_class", False), device=device,
                   crop_to_content=extra.get("crop_to_content", True), crop_margin=extra.get("crop_margin", 0.1),
                   reads=extra.get("input", "shoe_on_black"), meta=extra)

    @classmethod
    def from_config_random(cls, model_size: str = "tiny", image_size: int = 64, two_class: bool = False,
                           seed: int = 0) -> WDPredictor:
        """An untrained predictor (tests, and the untrained baseline of the benchmark)."""
        torch.manual_seed(seed)
        return cls(build_segformer(model_size, two_class), image_size, two_class=two_class, device="cpu")

    @torch.no_grad()
    def predict_scores(self, images: list[np.ndarray], content: list[np.ndarray | None] | None = None) -> list[np.ndarray]:
        """Class probabilities (C, H, W) at each input's own resolution (outside the canvas: background).

        The canvas frames each image's non-black pixels (X_m's shoe), or, for a photo, the box of `content`
        (a rough foreground: only its box is used, WD still decides every pixel); None: the whole image."""
        s = self.image_size
        content = content or [None] * len(images)
        mats = [G.content_matrix(im if c is None else np.asarray(c), s, self.crop_margin, self.crop_to_content)
                for im, c in zip(images, content, strict=True)]
        batch = np.stack([G.to_tensor_normalized(G.warp_image(im, m, s)) for im, m in zip(images, mats, strict=True)])
        logits = self.model(pixel_values=torch.from_numpy(batch).to(self.device)).logits.float()
        logits = torch.nn.functional.interpolate(logits, size=(s, s), mode="bilinear", align_corners=False)
        probs = logits.softmax(1).cpu().numpy()
        fill = np.zeros(probs.shape[1], np.float32)
        fill[0] = 1.0
        return [G.unwarp_scores(p, m, im.shape[1], im.shape[0], fill) for p, m, im in zip(probs, mats, images, strict=True)]

    def predict_raw(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """Model class ids (3, or 2 for the ablation) at each input's own resolution."""
        return [p.argmax(0).astype(np.uint8) for p in self.predict_scores(images)]

    def to_three_class(self, raw: np.ndarray, image: np.ndarray) -> np.ndarray:
        """Map a 2-class prediction to 3 classes: non-black pixels that are not wearable are visible."""
        if not self.two_class:
            return raw
        out = np.where(np.asarray(image).max(-1) > 0, VISIBLE, 0).astype(np.uint8)
        out[raw == 1] = WEARABLE
        return out

    def predict(self, shoe_image_rgb: np.ndarray) -> np.ndarray:
        """(H, W) uint8 class ids 0 background / 1 visible / 2 wearable for one X_m image."""
        return self.to_three_class(self.predict_raw([shoe_image_rgb])[0], shoe_image_rgb)
