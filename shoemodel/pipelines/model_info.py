"""Which models a generate run used, read from their folders, with a loud note for sample-scale ones.

The bundled sample trains tiny models (a random-initialised tiny SD base for SW, MiT/ViT "tiny" sizes,
a few hundred steps): they prove the plumbing, not the method. A user must not mistake their output for
ShoeModel's, so every such model is named as what it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _config(folder: str | Path | None, name: str = "config.json") -> dict[str, Any]:
    if folder is None:
        return {}
    p = Path(folder) / name
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}


def describe(stage: str, folder: str | Path | None, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """{stage, path, size, steps, sample_model, note} for one model folder (meta: what the loader already read)."""
    cfg = dict(meta or {})
    if not cfg:
        raw = _config(folder)
        cfg = raw.get("shoemodel", raw)
    train = cfg.get("train_config", {}) or {}
    size = cfg.get("model_size") or train.get("model_size")
    steps = cfg.get("steps") or train.get("steps")
    notes = []
    if cfg.get("tiny_random_base"):
        notes.append("tiny random-initialised SD base (the sample's), not Stable Diffusion")
    if size == "tiny":
        notes.append("tiny architecture (the sample's size)")
    if folder is None:
        notes.append("random weights, not loaded from a checkpoint")
    return {"stage": stage, "path": None if folder is None else str(folder), "size": size, "steps": steps,
            "sample_model": bool(notes), "note": "; ".join(notes)}


def sw_base_note(sw: Any) -> str:
    """A note when SW's base UNet is far smaller than Stable Diffusion's (SD 1.5: 320-1280 channels)."""
    unet = getattr(getattr(sw, "pipeline", None), "unet", None)
    channels = tuple(getattr(getattr(unet, "config", None), "block_out_channels", ()) or ())
    if channels and max(channels) < 320:
        return f"tiny SD-shaped base (UNet channels {list(channels)}; SD 1.5 has 320-1280), random or sample-trained"
    return ""


def pipeline_models(cfg: Any, pipe: Any, foreground: str) -> list[dict[str, Any]]:
    """The models of one run, in pipeline order (None entries for stages that did not run)."""
    sw_meta = getattr(pipe.sw, "meta", None) or _config(cfg.sw, "sw.json")
    sw = describe("SW", cfg.sw, sw_meta)
    base = sw_base_note(pipe.sw)
    if base and "SD base" not in sw["note"]:
        sw["note"] = "; ".join(x for x in (sw["note"], base) if x)
        sw["sample_model"] = True
    out = [sw]
    if pipe.wd is not None:
        out.append(describe("WD", cfg.wd, getattr(pipe.wd, "meta", None)))
    else:
        out.append({"stage": "WD", "path": None, "sample_model": False, "note": f"not run: classes from {foreground}"})
    out.append(describe("LpS phase 1", cfg.lps_keypoints))
    out.append(describe("LpS phase 2", cfg.lps_diffusion))
    return out


def model_lines(models: list[dict[str, Any]]) -> list[str]:
    """One line per model for the terminal; sample-scale ones shouted."""
    lines = []
    for m in models:
        where = m.get("path") or "-"
        bits = [str(m["size"])] if m.get("size") else []
        bits += [f"{m['steps']} steps"] if m.get("steps") else []
        extra = f" ({', '.join(bits)})" if bits else ""
        line = f"  {m['stage']}: {where}{extra}"
        if m.get("sample_model"):
            line += f"  !! SAMPLE MODEL: {m['note']} - the output shows the plumbing, not ShoeModel's quality"
        elif m.get("note"):
            line += f"  ({m['note']})"
        lines.append(line)
    return lines
