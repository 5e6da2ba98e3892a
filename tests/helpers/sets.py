"""Small shard sets for tests and benchmarks (real sets come from curation / build-set).

Every record is made by `shoemodel.schemas.build_record`, the builder the package uses. Two kinds:
synthetic scenes and product photos from `shoemodel.synthetic` (exact keypoints and masks), and
noise photos of fixed sizes for the annotation tests, whose ids, sizes and masks those tests assert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.schemas.builder import build_record
from shoemodel.store import Dropped, write_set


def synthetic_shoe_leg_record(seed: int, size: int = 64, split: str = "train") -> dict[str, Any]:
    """One shoe-leg record drawn by `shoemodel.synthetic.make_worn_example`."""
    from shoemodel.synthetic.examples import make_worn_example

    ex = make_worn_example(seed, size)
    return build_record("shoe_leg", id=f"synthetic-{seed:06d}", source_uri=f"synthetic://worn/{seed}", split=split,
                        caption=ex.caption, image=ex.image, shoe_image=ex.shoe_image,
                        shoe_mask=ex.shoe_mask.astype(np.uint8) * 255, keypoints=ex.keypoints,
                        provenance={"maker": "shoemodel.synthetic.make_worn_example", "seed": seed})


def synthetic_wearable_record(seed: int, size: int = 64, split: str = "train") -> dict[str, Any]:
    """One wearable-area record drawn by `shoemodel.synthetic.make_product_example`."""
    from shoemodel.synthetic.examples import make_product_example

    ex = make_product_example(seed, size)
    return build_record("wearable_area", id=f"synthetic-product-{seed:06d}", source_uri=f"synthetic://product/{seed}",
                        split=split, caption=ex.caption, image=ex.image, shoe_image=ex.shoe_image, area_mask=ex.area_mask,
                        provenance={"maker": "shoemodel.synthetic.make_product_example", "seed": seed})


SYNTHETIC_RECORDS: dict[str, Callable[[int, int, str], dict[str, Any]]] = {
    "shoe_leg": synthetic_shoe_leg_record, "wearable_area": synthetic_wearable_record,
}


def every_fourth_is_test(i: int) -> str:
    """The training tests' split: items 0, 4, 8, ... held out as 'test'."""
    return "test" if i % 4 == 0 else "train"


def write_synthetic_set(root: str | Path, set_name: str, n: int, size: int = 64,
                        split: Callable[[int], str] = every_fourth_is_test, records_per_shard: int = 64) -> Path:
    """Write synthetic records 0..n-1 of `set_name` (split by `split(i)`) as a shard set at root."""
    make = SYNTHETIC_RECORDS[set_name]
    write_set(root, set_name, range(n), lambda i: make(i, size, split(i)), records_per_shard=records_per_shard,
              progress=False)
    return Path(root)


def write_synthetic_shoe_leg_set(root: str | Path, n: int = 8, size: int = 64, n_val: int = 2) -> Path:
    """n synthetic shoe-leg records, the last n_val in split 'val', in one shard (SW training and its benchmark)."""
    return write_synthetic_set(root, "shoe_leg", n, size, lambda i: "val" if i >= n - n_val else "train",
                               records_per_shard=max(1, n))


def product_record(i: int, w: int = 40, h: int = 32, annotation: dict[str, Any] | None = None) -> dict[str, Any]:
    """A wearable-area record 'shoe/<i>' of noise pixels: visible area with a wearable patch that moves with i."""
    rng = np.random.default_rng(i)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[4 + i % 3: h - 4, 5: w - 6] = 1
    mask[8: 14, 10 + i % 4: 22] = 2
    return build_record("wearable_area", id=f"shoe/{i:04d}", source_uri=f"synthetic://product/{i}",
                        split="train" if i % 5 else "val", caption=f"shoe {i}", image=img,
                        shoe_image=np.where(mask[..., None] > 0, img, 0).astype(np.uint8), area_mask=mask,
                        provenance={"maker": "tests.helpers.sets", "seed": i}, annotation=annotation)


def worn_record(i: int, w: int = 48, h: int = 64) -> dict[str, Any]:
    """A shoe-leg record 'worn/<i>' of noise pixels: a fixed shoe box and 11 keypoints (the last one missing)."""
    rng = np.random.default_rng(100 + i)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[50:60, 5:20] = 255
    kpts = np.array([(3 + 3 * k, 4 + 4 * k, 1.0) for k in range(12)], np.float32)
    kpts[11] = 0
    return build_record("shoe_leg", id=f"worn/{i}", source_uri=f"synthetic://worn/{i}", split="train",
                        caption="legs wearing shoes", image=img,
                        shoe_image=np.where(mask[..., None] > 0, img, 0).astype(np.uint8), shoe_mask=mask,
                        keypoints=kpts, provenance={"pose_model": "test"})


def write_pool(root: Path, n: int, skip: Iterable[int] = ()) -> Path:
    """An annotation pool: product records 0..n-1 (minus `skip`) plus one dropped item, for the failure views."""
    def make(i: int) -> dict[str, Any]:
        if i == n:
            raise Dropped("no shoe found")
        return product_record(i)

    skip = set(skip)
    write_set(root, "wearable_area", [i for i in range(n + 1) if i not in skip], make, records_per_shard=4, progress=False)
    return root
