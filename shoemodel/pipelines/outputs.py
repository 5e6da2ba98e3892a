"""Write one generate run to disk: images, intermediates, contact sheet and a JSON record of what was done."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shoemodel.pipelines.contact_sheet import contact_sheet
from shoemodel.pipelines.generate import GenerateResult
from shoemodel.schemas.classes import colorize


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 (alpha, if any, is dropped: transparent areas keep their colour values)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def save_result(result: GenerateResult, shoe_rgb: np.ndarray, out_dir: str | Path, stem: str,
                info: dict[str, Any] | None = None) -> dict[str, Any]:
    """PNG files (lossless, so pasted shoe pixels stay exact) plus `<stem>.json`; returns the written paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {"images": [], "raw": [], "poses": []}
    for i, (img, raw, pose) in enumerate(zip(result.images, result.raw, result.poses, strict=True)):
        for key, arr in (("images", img), ("raw", raw), ("poses", pose)):
            name = f"{stem}_{i:02d}.png" if key == "images" else f"{stem}_{i:02d}_{key.rstrip('s')}.png"
            Image.fromarray(arr).save(out / name)
            files[key].append(name)
    for key, arr in (("x_w", result.x_w), ("classes", colorize(result.classes)), ("canvas", result.canvas)):
        Image.fromarray(arr).save(out / f"{stem}_{key}.png")
        files[key] = f"{stem}_{key}.png"
    sheet = contact_sheet([shoe_rgb, result.canvas, colorize(result.classes), result.x_w], result.poses, result.images)
    Image.fromarray(sheet).save(out / f"{stem}_sheet.png")
    files["sheet"] = f"{stem}_sheet.png"
    record = {"files": files, "foot8": result.foot8.tolist(), "keypoints": result.keypoints.tolist(), **(info or {})}
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1))
    return record
