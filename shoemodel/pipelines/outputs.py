"""Write one generate run to disk: images, intermediates, contact sheet and a JSON record of what was done."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shoemodel.pipelines.confidence import summary_lines
from shoemodel.pipelines.contact_sheet import contact_sheet
from shoemodel.pipelines.generate import GenerateResult
from shoemodel.schemas.classes import colorize


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as upright RGB uint8 (EXIF orientation applied; transparent areas composited on white)."""
    from shoemodel.pipelines.photo_input import load_photo

    return load_photo(path).rgb


def caption_lines(result: GenerateResult, info: dict[str, Any]) -> list[str]:
    """The contact sheet's caption: sizes, models (sample ones flagged) and per-stage confidence."""
    from shoemodel.pipelines.model_info import model_lines

    h, w = result.images[0].shape[:2] if result.images else result.canvas.shape[:2]
    sw = f"{result.sw_size[0]}x{result.sw_size[1]}" if result.sw_size else "?"
    lines = [f"output {w}x{h} (SW at {sw}); shoe pixels "
             + ("the photo's own, exact" if result.exact else "resampled from the photo")]
    lines += [line.strip() for line in model_lines(info.get("models", []))]
    lines += summary_lines({**result.confidence})
    return lines


def save_result(result: GenerateResult, shoe_rgb: np.ndarray, out_dir: str | Path, stem: str,
                info: dict[str, Any] | None = None) -> dict[str, Any]:
    """PNG files (lossless, so pasted shoe pixels stay exact) plus `<stem>.json`; returns the written record."""
    info = dict(info or {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {"images": [], "raw": [], "poses": []}
    for i, (img, raw, pose) in enumerate(zip(result.images, result.raw, result.poses, strict=True)):
        for key, arr in (("images", img), ("raw", raw), ("poses", pose)):
            name = f"{stem}_{i:02d}.png" if key == "images" else f"{stem}_{i:02d}_{key.rstrip('s')}.png"
            Image.fromarray(arr).save(out / name)
            files[key].append(name)
    parts = [("x_w", result.x_w), ("classes", colorize(result.classes)), ("canvas", result.canvas)]
    if result.x_w_sw is not None:
        parts.append(("x_w_sw", result.x_w_sw))
    for key, arr in parts:
        Image.fromarray(arr).save(out / f"{stem}_{key}.png")
        files[key] = f"{stem}_{key}.png"
    caption = caption_lines(result, info)
    sheet = contact_sheet([shoe_rgb, result.canvas, colorize(result.classes), result.x_w], result.poses, result.images,
                          caption=caption)
    Image.fromarray(sheet).save(out / f"{stem}_sheet.png")
    files["sheet"] = f"{stem}_sheet.png"
    info.setdefault("confidence", result.confidence)
    record = {"files": files, "foot8": result.foot8.tolist(), "keypoints": result.keypoints.tolist(),
              "summary": caption, **info}
    (out / f"{stem}.json").write_text(json.dumps(record, indent=1, default=str))
    return record
