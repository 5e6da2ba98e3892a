"""Phase 1 inference: an X_w / X_m image -> 8 foot keypoints (x, y, score) in the input's pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from shoemodel.models import geometry as G
from shoemodel.models.checkpoint import read_pretrained_folder
from shoemodel.models.device import resolve_device
from shoemodel.models.lps_keypoints import heatmaps as H
from shoemodel.models.lps_keypoints.model import build_vitpose


class FootKeypointPredictor:
    """Letterbox (or shoe-box fit) to the model size, heatmaps with flip test, decode, map back."""

    def __init__(self, model: torch.nn.Module, image_size: int, flip_test: bool = True, crop_to_content: bool = True,
                 crop_margin: float = 0.15, device: str | None = None):
        self.device = device or resolve_device()
        self.model = model.to(self.device).eval()
        self.image_size, self.flip_test = int(image_size), bool(flip_test)
        self.crop_to_content, self.crop_margin = bool(crop_to_content), float(crop_margin)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None) -> FootKeypointPredictor:
        """Load a folder written by `shoemodel train lps-keypoints` (ViTPose config.json + model.safetensors)."""
        model, meta = read_pretrained_folder("VitPoseForPoseEstimation", path, "LpS phase-1 checkpoint",
                                             "`shoemodel train lps-keypoints` (or `dvc repro train_lps_keypoints`)")
        return cls(model, meta.get("image_size", 256), meta.get("flip_test", True), meta.get("crop_to_content", True),
                   meta.get("crop_margin", 0.15), device)

    @classmethod
    def from_config_random(cls, model_size: str = "tiny", image_size: int = 64, seed: int = 0, **kw) -> FootKeypointPredictor:
        """An untrained predictor (tests, and the untrained baseline)."""
        torch.manual_seed(seed)
        return cls(build_vitpose(model_size, image_size), image_size, device="cpu", **kw)

    def predict_batch(self, images: list[np.ndarray]) -> list[np.ndarray]:
        s = self.image_size
        mats = [G.content_matrix(im, s, self.crop_margin, self.crop_to_content) for im in images]
        batch = np.stack([G.to_tensor_normalized(G.warp_image(im, m, s)) for im, m in zip(images, mats, strict=True)])
        heat = H.predict_heatmaps(self.model, torch.from_numpy(batch).to(self.device), self.flip_test).cpu().numpy()
        out = []
        for hm, m in zip(heat, mats, strict=True):
            k = H.decode(hm, s)
            inv = G.invert(m)
            k[:, :2] = k[:, :2] @ inv[:, :2].T + inv[:, 2]
            out.append(k)
        return out

    def predict(self, image_rgb: np.ndarray) -> np.ndarray:
        """(8, 3) x, y, score in input pixel coordinates (FOOT_INDICES order)."""
        return self.predict_batch([image_rgb])[0]
