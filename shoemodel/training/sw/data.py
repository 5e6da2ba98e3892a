"""SW training examples from the shoe-leg set: target photo, condition X_w ⊕ X_p, and a text prompt.

Records stream from the shards (never the whole set in memory); X_p is drawn by the shared
`render_pose` after the crop, so line widths match what inference draws at the same resolution.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

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
    import torch

    pixels = torch.from_numpy(np.ascontiguousarray(ex.image.transpose(2, 0, 1))).float() / 127.5 - 1.0
    return {"pixel_values": pixels, "conditioning": torch.from_numpy(condition_array(ex.x_w, ex.x_p)), "prompt": ex.prompt}


def iter_examples(root: str | Path, resolution: int, *, split: str = "train", seed: int = 0, flip: bool = True,
                  template: str = "a photo of a person wearing shoes", shard_index: int = 0, num_shards: int = 1,
                  shuffle_buffer: int = 256, repeat: bool = True) -> Iterator[dict[str, Any]]:
    """Stream tensors: every `num_shards`-th record from `shard_index` (one share per process), buffer-shuffled."""
    from shoemodel.store import iter_records

    rng = random.Random(seed * 1000 + shard_index)
    epoch = 0
    while True:
        buffer: list[dict[str, Any]] = []
        n_seen = 0
        for i, rec in enumerate(iter_records(root, COLUMNS, split=split)):
            if i % num_shards != shard_index:
                continue
            n_seen += 1
            buffer.append(rec)
            if len(buffer) >= shuffle_buffer:
                yield to_tensors(make_example(buffer.pop(rng.randrange(len(buffer))), resolution, rng, flip, template))
        rng.shuffle(buffer)
        for rec in buffer:
            yield to_tensors(make_example(rec, resolution, rng, flip, template))
        if n_seen == 0:
            raise ValueError(f"{root}: no '{split}' records for process {shard_index} of {num_shards}")
        epoch += 1
        if not repeat:
            return


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a list of examples into a batch."""
    import torch

    return {"pixel_values": torch.stack([i["pixel_values"] for i in items]),
            "conditioning": torch.stack([i["conditioning"] for i in items]),
            "prompts": [i["prompt"] for i in items]}
