"""Name and version of a stage's model without building it (the driver may have no GPU or no room for it).

The weights file's SHA-256 (or, for a model folder, a hash of its file names and sizes) goes into the
stage fingerprint, so swapping a checkpoint invalidates the stage's finished parts, and with the model's
name and file name into every record's provenance. ONNX backends also record the onnxruntime provider.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from shoemodel.curation import backends
from shoemodel.models.weights import require_weights


def _version(dists: tuple[str, ...]) -> str:
    for d in dists:
        try:
            return f"{d}-{metadata.version(d)}"
        except metadata.PackageNotFoundError:
            continue
    return f"{dists[0]}-not-installed" if dists else "none"


@lru_cache(maxsize=32)
def weights_digest(path: str) -> str:
    """SHA-256 of a weights file, or of a model folder's listing (names + sizes: reading every shard is slow)."""
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for f in sorted(p.rglob("*")):
            if f.is_file():
                h.update(f"{f.relative_to(p)}:{f.stat().st_size}\n".encode())
    else:
        with p.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def model_name(path: Path) -> str:
    """What the checkpoint is: a transformers folder's architecture (and its source name), else the file's stem."""
    config = path / "config.json"
    if path.is_dir() and config.is_file():
        try:
            c = json.loads(config.read_text())
        except ValueError:
            return path.name
        arch = (c.get("architectures") or [c.get("model_type", "")])[0]
        src = c.get("_name_or_path") or path.name
        return f"{arch} ({src})" if arch else src
    return path.stem if path.is_file() else path.name


def backend_info(stage: str, backend: str, weights: str = "") -> dict[str, Any]:
    """{"backend", "library", "model", "weights", "weights_sha256"(, "provider")} for provenance; a required
    missing file is named now."""
    entry = backends.get(stage, backend)  # library and whether weights are required: the registry's
    needs_weights = entry.needs_weights
    info: dict[str, Any] = {"backend": backend, "library": _version(entry.library)}
    if weights and (needs_weights or Path(weights).exists()):
        p = require_weights(weights, f"curation.{stage} ({backend})")
        info["model"] = model_name(p)
        info["weights"] = p.name
        info["weights_sha256"] = weights_digest(str(p.resolve()))
    elif needs_weights:
        require_weights(weights, f"curation.{stage} ({backend})")
    elif weights:
        info["weights"] = Path(weights).name  # e.g. an ultralytics .yaml resolved by the library
    if any(d.startswith("onnxruntime") for d in entry.library):  # name the execution provider
        from shoemodel.models.onnx_session import preferred_providers

        info["provider"] = preferred_providers()[0]
    return info


def model_info(stage: str, cfg: Any) -> dict[str, Any]:
    """`backend_info` of a stage config with `backend` and `weights` fields (pose, segment); for segment also the
    SHA-256 of the shoe priors and of the checker, so new shipped weights redo the parts they change."""
    info = backend_info(stage, cfg.backend, cfg.weights)
    if stage == "segment":
        from shoemodel.models.shoe_prior.predictor import SHIPPED_CHECK, SHIPPED_SEGMENTERS, WEIGHTS_FILE

        def digest(folder: Any) -> str | None:
            f = Path(folder) / WEIGHTS_FILE
            return weights_digest(str(f.resolve())) if f.is_file() else None

        priors = [digest(f) for f in (cfg.prior_weights or SHIPPED_SEGMENTERS)]
        if all(priors):
            info["prior_sha256"] = priors
        check = digest(cfg.prior_check_weights or SHIPPED_CHECK) if cfg.prior_check else None
        if check:
            info["prior_check_sha256"] = check
    return info
