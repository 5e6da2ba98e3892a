"""Tiny shard sets made from the synthetic generator (exact ground truth), shared by the training tests."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _common(i: int, split: str, image: np.ndarray) -> dict:
    return {"id": f"s{i}", "source_uri": f"synthetic://{i}", "content_hash": hashlib.sha1(image.tobytes()).hexdigest(),
            "width": image.shape[1], "height": image.shape[0], "split": split, "caption": "a shoe",
            "provenance": json.dumps({"generator": "test"})}


def _split(i: int) -> str:
    return "test" if i % 4 == 0 else "train"


def make_wearable_set(root: Path, n: int, size: int) -> Path:
    from shoemodel.schemas.records import encode_png
    from shoemodel.store import write_set
    from shoemodel.synthetic import make_product_example

    def rec(i: int) -> dict:
        ex = make_product_example(i, size)
        return {**_common(i, _split(i), ex.image), "image": encode_png(ex.image), "shoe_image": encode_png(ex.shoe_image),
                "area_mask": encode_png(ex.area_mask), "annotation": None}

    write_set(root, "wearable_area", range(n), rec, records_per_shard=64, progress=False)
    return root


def make_shoe_leg_set(root: Path, n: int, size: int) -> Path:
    from shoemodel.schemas.records import encode_png
    from shoemodel.store import write_set
    from shoemodel.synthetic import make_worn_example

    def rec(i: int) -> dict:
        ex = make_worn_example(i, size)
        return {**_common(i, _split(i), ex.image), "image": encode_png(ex.image), "shoe_image": encode_png(ex.shoe_image),
                "shoe_mask": encode_png(ex.shoe_mask.astype(np.uint8) * 255),
                "keypoints": ex.keypoints.astype(np.float32).reshape(-1).tolist()}

    write_set(root, "shoe_leg", range(n), rec, records_per_shard=64, progress=False)
    return root


@pytest.fixture(scope="session")
def wearable_set(tmp_path_factory) -> Path:
    return make_wearable_set(tmp_path_factory.mktemp("sets") / "wearable_area", 24, 64)


@pytest.fixture(scope="session")
def shoe_leg_set(tmp_path_factory) -> Path:
    return make_shoe_leg_set(tmp_path_factory.mktemp("sets") / "shoe_leg", 32, 64)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models run far faster on one thread than on two contended ones."""
    import torch

    torch.set_num_threads(1)
