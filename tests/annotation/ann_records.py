"""Small wearable-area / shoe-leg records built with numpy, independent of the synthetic module."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from shoemodel.schemas.records import encode_png
from shoemodel.store import write_set


def product_record(i: int, w: int = 40, h: int = 32) -> dict:
    rng = np.random.default_rng(i)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[4 + i % 3: h - 4, 5: w - 6] = 1
    mask[8: 14, 10 + i % 4: 22] = 2
    shoe = np.where(mask[..., None] > 0, img, 0).astype(np.uint8)
    return {"id": f"shoe/{i:04d}", "source_uri": f"synthetic://product/{i}", "content_hash": hashlib.sha256(img.tobytes()).hexdigest(),
            "width": w, "height": h, "split": "train" if i % 5 else "val", "caption": f"shoe {i}",
            "provenance": json.dumps({"maker": "tests.annotation", "seed": i}),
            "image": encode_png(img), "shoe_image": encode_png(shoe), "area_mask": encode_png(mask), "annotation": None}


def write_pool(root: Path, n: int, skip: tuple[int, ...] = ()) -> Path:
    """A wearable-area set of n records (minus `skip`) plus one dropped item, for the failure views."""
    def make(i: int) -> dict:
        if i == n:
            from shoemodel.store import Dropped

            raise Dropped("no shoe found")
        return product_record(i)

    write_set(root, "wearable_area", [i for i in range(n + 1) if i not in skip], make, records_per_shard=4, progress=False)
    return root


def worn_record(i: int, w: int = 48, h: int = 64) -> dict:
    rng = np.random.default_rng(100 + i)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[50:60, 5:20] = 255
    kpts = np.zeros((12, 3), np.float32)
    for k in range(12):
        kpts[k] = (3 + 3 * k, 4 + 4 * k, 1.0)
    kpts[11] = 0  # one missing point
    return {"id": f"worn/{i}", "source_uri": f"synthetic://worn/{i}", "content_hash": hashlib.sha256(img.tobytes()).hexdigest(),
            "width": w, "height": h, "split": "train", "caption": "legs wearing shoes",
            "provenance": json.dumps({"pose_model": "test"}), "image": encode_png(img),
            "shoe_image": encode_png(np.where(mask[..., None] > 0, img, 0).astype(np.uint8)),
            "shoe_mask": encode_png(mask), "keypoints": kpts.ravel().tolist()}


def probability_predictor(level: float = 0.6):
    """A predictor factory for `--predictor ann_records:probability_predictor`: fixed wearable-ish probabilities."""
    def run(shoe_image: np.ndarray) -> np.ndarray:
        h, w = shoe_image.shape[:2]
        p = np.zeros((h, w, 3), np.float32)
        p[..., 2] = level * (shoe_image[..., 0] > 0)
        p[..., 0] = 1 - p[..., 2]
        return p
    return run
