"""WD training samples: X_m and its area mask, with Mosaic, rotation, scale, flip and colour jitter."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from shoemodel.models import geometry as G
from shoemodel.schemas.classes import to_two_class
from shoemodel.schemas.records import decode_image
from shoemodel.training import augment as A
from shoemodel.training.wd.config import WDConfig


class WearableAreaDataset(Dataset):
    """Items are indexed by (record index, augmentation seed); `train=False` gives plain letterboxed samples."""

    def __init__(self, table, cfg: WDConfig, train: bool = True):
        self.shoe = table.column("shoe_image")
        self.mask = table.column("area_mask")
        self.cfg, self.train = cfg, train

    def __len__(self) -> int:
        return len(self.shoe)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        img = decode_image(self.shoe[i].as_py(), "RGB", "shoe_image")
        mask = decode_image(self.mask[i].as_py(), "L", "area_mask")
        return img, mask

    def load_cropped(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The sample fitted to the training canvas (shoe box from X_m's own pixels, or letterbox)."""
        img, mask = self.load(i)
        s = self.cfg.image_size
        m = G.content_matrix(img, s, self.cfg.crop_margin, self.cfg.crop_to_content)
        return G.warp_image(img, m, s), G.warp_image(mask, m, s, nearest=True)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        idx, seed = key if isinstance(key, tuple) else (key, 0)
        img, mask = self.sample(idx, seed)
        if self.cfg.two_class:
            mask = to_two_class(mask)
        return {"pixel_values": torch.from_numpy(G.to_tensor_normalized(img)),
                "labels": torch.from_numpy(mask.astype(np.int64))}

    def sample(self, idx: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The augmented (image, mask) pair at the training size."""
        c, s = self.cfg, self.cfg.image_size
        rng = np.random.default_rng(seed)
        if self.train and rng.random() < c.mosaic_prob:
            picks = [idx, *rng.integers(0, len(self), size=3).tolist()]
            pairs = [self.load_cropped(int(j)) for j in picks]
            img, mask = A.mosaic([p[0] for p in pairs], [p[1] for p in pairs], s, rng)
        else:
            img, mask = self.load_cropped(idx)
        if not self.train:
            return img, mask
        m, _ = A.random_affine(s, rng, c.rotate_prob, c.rotate_deg, (c.scale_min, c.scale_max), 0.1, c.flip_prob)
        img, mask = G.warp_image(img, m, s), G.warp_image(mask, m, s, nearest=True)
        img = A.color_jitter(img, rng, c.brightness, c.contrast, c.saturation, c.hue, foreground=img.max(-1) > 0)
        return img, mask


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
