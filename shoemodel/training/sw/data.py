"""SW training examples from the shoe-leg set: target photo, condition X_w ⊕ X_p, and a text prompt.

Records stay encoded in a memory-mapped Arrow table and are decoded per item; X_p is drawn by the shared
`render_pose` after the crop, so line widths match what inference draws at the same resolution. All
randomness of an item comes from its augmentation seed, so a resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from shoemodel.models.sw.condition import condition_array
from shoemodel.schemas.keypoints import flip_keypoints
from shoemodel.schemas.records import decode_image, keypoints_array

COLUMNS = ("id", "image", "shoe_image", "keypoints", "caption", "width", "height", "split")


def prompt_of(record: dict[str, Any], template: str) -> str:
    """The record's caption, or the template when it has none."""
    caption = (record.get("caption") or "").strip()
    return caption or template


@dataclass
class SWExample:
    """One training example as arrays (uint8 HWC images, keypoints in crop pixels)."""

    image: np.ndarray
    x_w: np.ndarray
    x_p: np.ndarray
    prompt: str


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))


def make_example(record: dict[str, Any], resolution: int, rng: random.Random, flip: bool, template: str) -> SWExample:
    """Decode a record, optionally flip (with left/right swap), resize the short side, random-crop a square."""
    from shoemodel.models.pose_render import render_pose

    src = record.get("id")
    image = decode_image(record["image"], "RGB", "image", src)
    x_w = decode_image(record["shoe_image"], "RGB", "shoe_image", src)
    kpts = keypoints_array(record).copy()
    h, w = image.shape[:2]
    if flip and rng.random() < 0.5:
        image, x_w = image[:, ::-1].copy(), x_w[:, ::-1].copy()
        kpts = flip_keypoints(kpts, w)
    scale = resolution / min(w, h)
    nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    image, x_w = _resize(image, (nw, nh)), _resize(x_w, (nw, nh))
    x0, y0 = rng.randint(0, nw - resolution), rng.randint(0, nh - resolution)
    image = image[y0:y0 + resolution, x0:x0 + resolution]
    x_w = x_w[y0:y0 + resolution, x0:x0 + resolution]
    present = kpts[:, 2] > 0
    kpts[:, 0] = kpts[:, 0] * nw / w - x0
    kpts[:, 1] = kpts[:, 1] * nh / h - y0
    inside = (kpts[:, 0] >= 0) & (kpts[:, 0] < resolution) & (kpts[:, 1] >= 0) & (kpts[:, 1] < resolution)
    kpts[~(present & inside)] = 0.0
    x_p = render_pose(kpts, (resolution, resolution))
    return SWExample(image, x_w, x_p, prompt_of(record, template))


def to_tensors(ex: SWExample) -> dict[str, Any]:
    """Tensors for the model: pixels in [-1, 1] (the VAE's range), condition in [0, 1] (ControlNet's)."""
    pixels = torch.from_numpy(np.ascontiguousarray(ex.image.transpose(2, 0, 1))).float() / 127.5 - 1.0
    return {"pixel_values": pixels, "conditioning": torch.from_numpy(condition_array(ex.x_w, ex.x_p)), "prompt": ex.prompt}


def variant_seed(index: int, variant: int) -> int:
    """The augmentation seed of crop/flip variant `variant` of record `index` (what the latent cache stores)."""
    from shoemodel.training.common import rng_for

    return int(rng_for(index, variant, 0x5EED).integers(0, 2**31 - 1))


class ShoeLegDataset(Dataset):
    """SW examples indexed by (record index, augmentation seed): the crop and flip come from the seed alone.

    Holds the split as an Arrow table of encoded bytes (memory-mapped) and decodes one record per item.
    With `variants` > 0 the seed picks one of that many fixed crop/flip variants per record (seed % variants),
    the augmentations a latent cache holds; 0 draws a fresh crop/flip from every seed.
    """

    def __init__(self, table: Any, resolution: int, *, flip: bool = True,
                 template: str = "a photo of a person wearing shoes", variants: int = 0):
        self.columns = {name: table.column(name) for name in table.column_names}
        self.num_rows = table.num_rows
        self.resolution, self.flip, self.template, self.variants = resolution, flip, template, variants

    def __len__(self) -> int:
        return self.num_rows

    def record(self, i: int) -> dict[str, Any]:
        """Row i as a record dict (image bytes still encoded)."""
        return {name: col[i].as_py() for name, col in self.columns.items()}

    def example(self, idx: int, seed: int) -> SWExample:
        """The augmented example of record idx for augmentation seed `seed`."""
        if self.variants > 0:
            seed = variant_seed(idx, seed % self.variants)
        return make_example(self.record(idx), self.resolution, random.Random(seed), self.flip, self.template)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        idx, seed = key if isinstance(key, tuple) else (key, 0)
        return to_tensors(self.example(idx, seed))


def load_dataset(root: str | Path, resolution: int, *, split: str = "train", max_records: int = 0, flip: bool = True,
                 template: str = "a photo of a person wearing shoes", variants: int = 0) -> ShoeLegDataset:
    """The `split` records of the shoe-leg set at `root` as a ShoeLegDataset."""
    from shoemodel.training.data import load_split

    return ShoeLegDataset(load_split(root, COLUMNS, split, max_records), resolution, flip=flip, template=template,
                          variants=variants)


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of examples into a batch (pixels and prompts, or cached latent moments and prompt rows)."""
    if "latent_mean" in items[0]:
        return {"latent_mean": torch.stack([i["latent_mean"] for i in items]),
                "latent_std": torch.stack([i["latent_std"] for i in items]),
                "conditioning": torch.stack([i["conditioning"] for i in items]),
                "prompt_ids": torch.tensor([i["prompt_id"] for i in items], dtype=torch.long)}
    return {"pixel_values": torch.stack([i["pixel_values"] for i in items]),
            "conditioning": torch.stack([i["conditioning"] for i in items]),
            "prompts": [i["prompt"] for i in items]}
