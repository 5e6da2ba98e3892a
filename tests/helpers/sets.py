"""A small synthetic shoe-leg shard set for tests and benchmarks (real sets come from curation / build-set)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from shoemodel.schemas.records import encode_png


def synthetic_shoe_leg_record(seed: int, size: int = 64, split: str = "train") -> dict[str, Any]:
    """One shoe-leg record drawn by `shoemodel.synthetic.make_worn_example` (exact keypoints and shoe mask)."""
    from shoemodel.synthetic.examples import make_worn_example

    ex = make_worn_example(seed, size)
    image = encode_png(ex.image)
    return {
        "id": f"synthetic-{seed:06d}", "source_uri": f"synthetic://worn/{seed}",
        "content_hash": hashlib.sha256(image).hexdigest(), "width": size, "height": size, "split": split,
        "caption": ex.caption, "provenance": json.dumps({"maker": "shoemodel.synthetic.make_worn_example", "seed": seed}),
        "image": image, "shoe_image": encode_png(ex.shoe_image), "shoe_mask": encode_png(ex.shoe_mask.astype("uint8") * 255),
        "keypoints": ex.keypoints.reshape(-1).tolist(),
    }


def write_synthetic_shoe_leg_set(root: str | Path, n: int = 8, size: int = 64, n_val: int = 2) -> Path:
    """Write n synthetic records (the last n_val in split 'val') as a shard set at root."""
    from shoemodel.store import write_set

    items = [(i, "val" if i >= n - n_val else "train") for i in range(n)]
    write_set(root, "shoe_leg", items, lambda it: synthetic_shoe_leg_record(it[0], size, it[1]),
              records_per_shard=max(1, n), progress=False, item_key=lambda it: str(it[0]))
    return Path(root)
