"""Where model files come from: one resolver and one error for every checkpoint the project loads.

Nothing downloads itself at run time. A checkpoint is given by path: absolute, relative to the params
file (the config loader resolves that), or found in `$SHOEMODEL_WEIGHTS`, a folder where a team keeps its
downloaded checkpoints: there a relative path is tried as it is, and any path by its file or folder name. A missing file raises `WeightsNotFound`, whose one-line message names the
model, every place that was looked at, and where to get the file.
"""

from __future__ import annotations

import os
from pathlib import Path

WEIGHTS_ENV = "SHOEMODEL_WEIGHTS"


class WeightsNotFound(FileNotFoundError):
    """A model file or folder the user must provide; the message says which model, where we looked, how to get it."""


def candidates(path: str | Path) -> list[Path]:
    """The places `path` may refer to, in the order they are tried."""
    p = Path(path).expanduser()
    out = [p]
    root = os.environ.get(WEIGHTS_ENV)
    if root:
        base = Path(root).expanduser()
        if not p.is_absolute():
            out.append(base / p)
        out.append(base / p.name)
    return list(dict.fromkeys(out))


def resolve_weights(path: str | Path | None) -> Path | None:
    """The first existing place for `path` (see `candidates`), or None."""
    if not path:
        return None
    for c in candidates(path):
        if c.exists():
            return c
    return None


def require_weights(path: str | Path | None, what: str, hint: str = "") -> Path:
    """Return the resolved `path`, or raise WeightsNotFound naming `what`, the places tried and `hint`."""
    found = resolve_weights(path)
    if found is not None:
        return found
    if not path:
        looked = "(no path set)"
    else:
        looked = " or ".join(f"'{c}'" for c in candidates(path))
    how = hint or "put the file there, or set its path in params.yaml (relative paths are read from the params file's folder)"
    raise WeightsNotFound(f"{what} not found at {looked}. No downloads are made: {how}")


#: Where SAM-family weights come from (the curation backends' hint and the loaders' missing-file error).
SAM_HINT = ("SAM checkpoints: sam_vit_b_01ec64.pth / sam_vit_l_0b3195.pth / sam_vit_h_4b8939.pth from the "
            "segment-anything release (e.g. models/sam/sam_vit_b_01ec64.pth), or a transformers SAM-family folder "
            "(config.json + model.safetensors: SamModel, SamHQModel or Sam2Model), e.g. a local copy of "
            "facebook/sam-vit-base, syscv-community/sam-hq-vit-base or facebook/sam2.1-hiera-tiny; give its path "
            "(params: curation.segment.weights, generate.sam_checkpoint).")
