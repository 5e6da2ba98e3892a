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

    image: np.ndarray | None  # None when the photo was not needed (its latent comes from the cache)
    x_w: np.ndarray
    x_p: np.ndarray
    prompt: str


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))


def make_example(record: dict[str, Any], resolution: int, rng: random.Random, flip: bool, template: str,
                 with_image: bool = True) -> SWExample:
    """Decode a record, optionally flip (with left/right swap), resize the short side, random-crop a square.

    `with_image=False` skips the photo (X_w shares its canvas, so the crop is the same): the cached path needs
    only the condition. The random draws do not depend on it.
    """
    from shoemodel.models.pose_render import render_pose

    src = record.get("id")
    image = decode_image(record["image"], "RGB", "image", src) if with_image else None
    x_w = decode_image(record["shoe_image"], "RGB", "shoe_image", src)
    kpts = keypoints_array(record).copy()
    h, w = x_w.shape[:2]
    if image is not None and image.shape[:2] != (h, w):
        raise ValueError(f"record {src}: image {image.shape[1]}x{image.shape[0]} and shoe_image {w}x{h} differ in size")
    if flip and rng.random() < 0.5:
        x_w = x_w[:, ::-1].copy()
        image = image[:, ::-1].copy() if image is not None else None
        kpts = flip_keypoints(kpts, w)
    scale = resolution / min(w, h)
    nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    x0, y0 = rng.randint(0, nw - resolution), rng.randint(0, nh - resolution)
    x_w = _resize(x_w, (nw, nh))[y0:y0 + resolution, x0:x0 + resolution]
    if image is not None:
        image = _resize(image, (nw, nh))[y0:y0 + resolution, x0:x0 + resolution]
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

    def example(self, idx: int, seed: int, with_image: bool = True) -> SWExample:
        """The augmented example of record idx for augmentation seed `seed` (without the photo: `with_image=False`)."""
        if self.variants > 0:
            seed = variant_seed(idx, seed % self.variants)
        record = self.record(idx) if with_image else self.record_without_image(idx)
        return make_example(record, self.resolution, random.Random(seed), self.flip, self.template, with_image)

    def record_without_image(self, i: int) -> dict[str, Any]:
        """Row i without the photo's bytes (the cached path never reads them)."""
        return {name: col[i].as_py() for name, col in self.columns.items() if name != "image"}

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
