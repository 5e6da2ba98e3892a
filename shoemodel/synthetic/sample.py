"""Write the bundled sample to disk as a labelled folder (the same layout users give for their own data).

Layout (one folder per set):
    <out>/shoe_leg/images/<id>.jpg, masks/<id>.png, labels.jsonl
    <out>/wearable_area/images/<id>.jpg, masks/<id>.png, labels.jsonl
Each labels.jsonl line names its files relative to the folder. The whole sample is written into
a temporary folder and renamed into place, so a crash never leaves half a sample.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from shoemodel.sets.splits import split_for
from shoemodel.synthetic.config import SampleConfig
from shoemodel.synthetic.examples import make_product_example, make_worn_example


def _save(img: np.ndarray, path: Path, quality: int | None = None) -> None:
    im = Image.fromarray(img)
    if quality is None:
        im.save(path, format="PNG", compress_level=1)
    else:
        im.save(path, format="JPEG", quality=quality, subsampling=0)


def write_sample(config: SampleConfig, progress: bool = True) -> Path:
    """Generate the sample folder described by `config`; returns its path."""
    out = Path(config.out)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("shoe_leg", "wearable_area"):
        (tmp / sub / "images").mkdir(parents=True)
        (tmp / sub / "masks").mkdir(parents=True)

    with open(tmp / "shoe_leg" / "labels.jsonl", "w") as fh:
        for i in tqdm(range(config.n_shoe_leg), desc="sample shoe_leg", disable=not progress):
            ex = make_worn_example(config.seed * 1_000_003 + i, config.size)
            sid = f"worn-{config.seed}-{i:06d}"
            _save(ex.image, tmp / "shoe_leg" / "images" / f"{sid}.jpg", config.jpeg_quality)
            _save((ex.shoe_mask * 255).astype(np.uint8), tmp / "shoe_leg" / "masks" / f"{sid}.png")
            fh.write(json.dumps({
                "id": sid, "image": f"images/{sid}.jpg", "shoe_mask": f"masks/{sid}.png",
                "keypoints": np.round(ex.keypoints, 3).tolist(), "caption": ex.caption,
                "split": split_for(sid, config.val_fraction, config.test_fraction),
            }) + "\n")

    with open(tmp / "wearable_area" / "labels.jsonl", "w") as fh:
        for i in tqdm(range(config.n_wearable_area), desc="sample wearable_area", disable=not progress):
            ex = make_product_example(config.seed * 1_000_003 + i, config.size)
            sid = f"product-{config.seed}-{i:06d}"
            _save(ex.image, tmp / "wearable_area" / "images" / f"{sid}.jpg", config.jpeg_quality)
            _save(ex.area_mask, tmp / "wearable_area" / "masks" / f"{sid}.png")
            fh.write(json.dumps({
                "id": sid, "image": f"images/{sid}.jpg", "area_mask": f"masks/{sid}.png", "caption": ex.caption,
                "split": split_for(sid, config.val_fraction, config.test_fraction),
            }) + "\n")

    (tmp / "README.txt").write_text(
        "Synthetic ShoeModel sample made by `shoemodel sample` (procedural, exact ground truth).\n"
        "For tests and the offline default pipeline, not a stand-in for real photos.\n"
    )
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
