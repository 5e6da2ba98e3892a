"""LpS phase 1 samples: worn-shoe X_m (visible shoe pixels) in, 8 foot-keypoint heatmaps out."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from shoemodel.models import geometry as G
from shoemodel.models.lps_keypoints import heatmaps as H
from shoemodel.schemas.keypoints import FOOT_FLIP_PERMUTATION, FOOT_INDICES, NUM_KEYPOINTS, flip_keypoints
from shoemodel.schemas.records import decode_image
from shoemodel.training import augment as A
from shoemodel.training.lps_keypoints.config import FootKeypointsConfig


def foot_keypoints(flat: list[float]) -> np.ndarray:
    """The (8, 3) foot keypoints of a record's 36-float keypoint list."""
    return np.asarray(flat, dtype=np.float32).reshape(NUM_KEYPOINTS, 3)[list(FOOT_INDICES)]


def augment_sample(img: np.ndarray, foot8: np.ndarray, cfg: FootKeypointsConfig, rng: np.random.Generator | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Fit to the canvas, then (train only) rotate / rescale / crop / flip with the left-right swap."""
    s = cfg.image_size
    m = G.content_matrix(img, s, cfg.crop_margin, cfg.crop_to_content)
    if rng is not None:
        aug, _ = A.random_affine(s, rng, rotate_prob=cfg.rotate_prob, rotate_deg=cfg.rotate_deg,
                                 scale_range=(cfg.scale_min, cfg.scale_max), translate=cfg.translate, flip_prob=0.0)
        m = G.compose(aug, m)
    out_img = G.warp_image(img, m, s)
    out_k = G.warp_points(foot8, m, s)
    if rng is not None and rng.random() < cfg.flip_prob:
        out_img = np.ascontiguousarray(out_img[:, ::-1])
        out_k = flip_keypoints(out_k, s, FOOT_FLIP_PERMUTATION)
    if rng is not None:
        out_img = A.color_jitter(out_img, rng, cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue,
                                 foreground=out_img.max(-1) > 0)
    return out_img, out_k


class FootKeypointDataset(Dataset):
    """Items indexed by (record index, augmentation seed); `train=False` gives un-augmented samples."""

    def __init__(self, table, cfg: FootKeypointsConfig, hm_size: int, train: bool = True):
        self.shoe = table.column("shoe_image")
        self.kpts = table.column("keypoints")
        self.cfg, self.hm_size, self.train = cfg, hm_size, train

    def __len__(self) -> int:
        return len(self.shoe)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        idx, seed = key if isinstance(key, tuple) else (key, 0)
        img = decode_image(self.shoe[idx].as_py(), "RGB", "shoe_image")
        foot8 = foot_keypoints(self.kpts[idx].as_py())
        img, k = augment_sample(img, foot8, self.cfg, np.random.default_rng(seed) if self.train else None)
        heat, weight = H.encode(k, self.cfg.image_size, self.hm_size, self.cfg.sigma)
        if self.cfg.supervise_missing:
            weight = np.ones_like(weight)
        return {"pixel_values": torch.from_numpy(G.to_tensor_normalized(img)), "heatmaps": torch.from_numpy(heat),
                "weights": torch.from_numpy(weight)}


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
