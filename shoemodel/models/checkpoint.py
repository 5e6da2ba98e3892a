"""The project's checkpoint folder: config.json (what to build) + model.safetensors (the weights), and the one
loader for published torch `.pth` files.

Training writes the folder and every predictor reads it, so both sides agree on one layout. Published `.pth`
files (segment-anything, mmcv / mmpose checkpoints such as ViTPose's) are pickles: `load_torch_file` reads them
with `weights_only=True` only, allowing besides tensors just numpy's scalar / array / dtype reconstruction, which
mmcv's `meta` entry holds (e.g. `hook_msgs.best_score`, a numpy float). Anything else is refused in one line
naming the file and the global, never unpickled with `weights_only=False`.
"""

from __future__ import annotations

import json
import os
import pickle
import re
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


def numpy_safe_globals() -> list[Any]:
    """numpy's pickle reconstructors (scalars, arrays, dtypes) for torch's weights-only unpickler, also under
    numpy 1.x's module names (`numpy.core.multiarray.*`), which files saved before numpy 2 carry."""
    import numpy as np
    from numpy._core import multiarray

    dtypes = [getattr(np.dtypes, n) for n in np.dtypes.__all__]
    return [multiarray.scalar, multiarray._reconstruct, np.ndarray, np.dtype, *dtypes,
            (multiarray.scalar, "numpy.core.multiarray.scalar"),
            (multiarray._reconstruct, "numpy.core.multiarray._reconstruct")]


def load_torch_file(path: str | Path) -> Any:
    """torch.load(weights_only=True) on the CPU, numpy's reconstructors allowed (`numpy_safe_globals`); a file that
    needs any other global (an mmengine MessageHub, a custom class) is one ValueError naming the file and it."""
    import torch

    try:
        with torch.serialization.safe_globals(numpy_safe_globals()):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        m = re.search(r"GLOBAL (\S+) was not an allowed global", text) or re.search(r"but got <class '([^']+)'>", text)
        what = m.group(1) if m else next((ln.strip() for ln in text.splitlines() if "WeightsUnpickler error" in ln),
                                         text.splitlines()[0] if text else "an unknown object")
        raise ValueError(f"'{path}' needs {what} to unpickle, which a weights-only load does not run; if you trust the "
                         "file, save its tensors alone: torch.save(torch.load(f, weights_only=False)['state_dict'], "
                         "'weights.pth')") from exc
