"""The project's checkpoint folder: config.json (what to build) + model.safetensors (the weights).

Training writes it and every predictor reads it, so both sides agree on one layout.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from shoemodel.models.runtime import prepare_imports
from shoemodel.models.weights import require_weights
from shoemodel.store.atomic import write_json


def write_model_folder(folder: str | Path, model_config: dict[str, Any], state_dict: dict[str, Any]) -> Path:
    """Save `model_config` and `state_dict` as a checkpoint folder (atomic per file)."""
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", model_config)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    tmp = out / "model.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, out / "model.safetensors")
    return out


def read_model_folder(folder: str | Path, what: str = "checkpoint") -> tuple[dict[str, Any], dict[str, Any]]:
    """Inverse of `write_model_folder`; a missing file is a WeightsNotFound naming it."""
    from safetensors.torch import load_file

    hint = "train it first (e.g. `dvc repro`) or copy a trained folder there"
    p = require_weights(folder, what, hint)
    for name in ("config.json", "model.safetensors"):
        require_weights(p / name, f"{what} ({name})", hint)
    return json.loads((p / "config.json").read_text()), load_file(str(p / "model.safetensors"))


def read_pretrained_folder(model_class: str, folder: str | Path, what: str, train_command: str) -> tuple[Any, dict[str, Any]]:
    """A transformers model (`model_class`, e.g. "SegformerForSemanticSegmentation") saved by `train_command`,
    and the project's own settings stored in its config under `shoemodel` (image size, crop...)."""
    prepare_imports()
    import transformers

    p = require_weights(folder, what, f"train it with {train_command}, or give the folder it wrote")
    require_weights(p / "config.json", f"{what} (config.json)", f"the folder must hold what {train_command} writes")
    model = getattr(transformers, model_class).from_pretrained(str(p))
    return model, dict(getattr(model.config, "shoemodel", {}) or {})
