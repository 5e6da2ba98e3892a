"""WD training samples: the product photo (or X_m) and its area mask, with random backdrops, Mosaic,
rotation, scale, flip and colour jitter.

With `input: photo` WD learns the background class from the photo as the user gives it (paper Table 5
has the background class for that); random backdrops from white to black behind the shoe (cut by its
mask) keep it from equating "background" with "bright", so a black shoe is not read as a hole.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from shoemodel.models import geometry as G
from shoemodel.schemas.classes import to_two_class
from shoemodel.schemas.records import decode_image
from shoemodel.training import augment as A
from shoemodel.training.wd.config import WDConfig

INPUTS = {"photo": "image", "shoe_on_black": "shoe_image"}  # train.wd.input -> the set's column


class WearableAreaDataset(Dataset):
    """Items are indexed by (record index, augmentation seed); `train=False` gives plain letterboxed samples."""

    def __init__(self, table, cfg: WDConfig, train: bool = True):
        if cfg.input not in INPUTS:
            raise ValueError(f"train.wd.input must be one of {', '.join(INPUTS)}, got {cfg.input!r}")
        self.shoe = table.column(INPUTS[cfg.input])
        self.mask = table.column("area_mask")
        self.cfg, self.train = cfg, train

    def __len__(self) -> int:
        return len(self.shoe)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        img = decode_image(self.shoe[i].as_py(), "RGB", INPUTS[self.cfg.input])
        mask = decode_image(self.mask[i].as_py(), "L", "area_mask")
        if img.shape[:2] != mask.shape[:2]:
            raise ValueError(f"record {i}: {INPUTS[self.cfg.input]} is {img.shape[1]}x{img.shape[0]}, "
                             f"area_mask {mask.shape[1]}x{mask.shape[0]}")
        return img, mask

    def load_cropped(self, i: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The sample fitted to the training canvas as WD's predictor fits it at inference (X_m: the box of its
        non-black pixels; a photo: the shoe's box); with `rng`, photos get a random backdrop first (with
        probability background_prob)."""
        img, mask = self.load(i)
        photo = self.cfg.input == "photo"
        if rng is not None and photo and rng.random() < self.cfg.background_prob:
            img = A.replace_background(img, mask, rng)
        s = self.cfg.image_size
        # A photo is framed by the shoe's box (generate frames it by the background remover's box): the
        # backdrop around the shoe stays in view and WD decides every pixel.
        m = G.content_matrix(mask if photo else img, s, self.cfg.crop_margin, self.cfg.crop_to_content)
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
            pairs = [self.load_cropped(int(j), rng if self.train else None) for j in picks]
            img, mask = A.mosaic([p[0] for p in pairs], [p[1] for p in pairs], s, rng)
        else:
            img, mask = self.load_cropped(idx, rng if self.train else None)
        if not self.train:
            return img, mask
        m, _ = A.random_affine(s, rng, rotate_prob=c.rotate_prob, rotate_deg=c.rotate_deg,
                               scale_range=(c.scale_min, c.scale_max), translate=0.1, flip_prob=c.flip_prob)
        img, mask = G.warp_image(img, m, s), G.warp_image(mask, m, s, nearest=True)
        keep_black = img.max(-1) > 0 if c.input == "shoe_on_black" else None  # X_m's black stays black
        img = A.color_jitter(img, rng, c.brightness, c.contrast, c.saturation, c.hue, foreground=keep_black)
        return img, mask


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
