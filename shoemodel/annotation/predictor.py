"""The pluggable WD predictor: any callable X_m (shoe on black, (H, W, 3) uint8) -> 3-class mask or probabilities.

Loaded lazily from a "module:factory" spec so this area never imports the training code at import
time. A predictor may return class ids (H, W) or probabilities (H, W, 3) / (3, H, W); only
probabilities give an uncertainty for choosing the next round's images.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from shoemodel.schemas.classes import NUM_CLASSES

Predictor = Callable[[np.ndarray], np.ndarray]


def load_predictor(spec: str, **kwargs: Any) -> Predictor | None:
    """Resolve "package.module:factory" and call factory(**kwargs); empty spec -> None (no model yet)."""
    if not spec:
        return None
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"predictor spec {spec!r} must look like 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load WD predictor {spec!r}: {exc}") from exc
    predictor = factory(**kwargs)
    if not callable(predictor):
        raise TypeError(f"{spec} returned {type(predictor).__name__}, expected a callable image -> mask")
    return predictor


def predict(predictor: Predictor, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Run the predictor; return (class-id mask uint8, probabilities (H, W, 3) or None)."""
    out = np.asarray(predictor(image))
    h, w = image.shape[:2]
    if out.shape == (h, w):
        if out.size and (out.min() < 0 or out.max() >= NUM_CLASSES):
            raise ValueError(f"predictor returned class ids outside 0..{NUM_CLASSES - 1}")
        return out.astype(np.uint8), None
    if out.shape == (NUM_CLASSES, h, w):
        out = np.moveaxis(out, 0, -1)
    if out.shape != (h, w, NUM_CLASSES):
        raise ValueError(f"predictor returned shape {out.shape}; expected ({h}, {w}) ids or ({h}, {w}, 3) probabilities")
    probs = out.astype(np.float32)
    return probs.argmax(-1).astype(np.uint8), probs


def uncertainty(probs: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean (1 - max probability) over `region` (the shoe), 0 = sure; the round picks the largest."""
    margin = 1.0 - probs.max(-1)
    if region is not None and region.any():
        margin = margin[region]
    return float(margin.mean()) if margin.size else 0.0


def wd_checkpoint(checkpoint: str, device: str | None = None) -> Predictor:
    """Factory for `annotation.predictor`: the trained WD model (shoemodel.models.wd) as a predictor."""
    from shoemodel.models.wd.predictor import WDPredictor  # imported only when a WD model is asked for

    return from_wd_predictor(WDPredictor.from_checkpoint(checkpoint, device=device))


def wd_model_version(checkpoint: str) -> str:
    """'wd-step<N>-<sha256[:12]>' of a WD folder: the training step and the weights' hash, so a prediction in
    Label Studio names the exact model that made it (and a retrained model gets a new version)."""
    import json
    from pathlib import Path

    from shoemodel.models.weights import require_weights
    from shoemodel.store.manifest import file_sha256

    folder = require_weights(checkpoint, "WD checkpoint", "train it with `shoemodel train wd` (or `dvc repro train_wd`)")
    weights = require_weights(Path(folder) / "model.safetensors", "WD checkpoint (model.safetensors)",
                              "the folder must hold what `shoemodel train wd` writes")
    step_file = Path(folder) / "training_state" / "step.json"
    step = json.loads(step_file.read_text()).get("step") if step_file.exists() else None
    return f"wd-step{step if step is not None else 'unknown'}-{file_sha256(weights)[:12]}"


def from_wd_predictor(wd: Any) -> Predictor:
    """Adapt a WDPredictor-like object: 3-class probabilities when it has them, else its class ids."""

    def run(shoe_image: np.ndarray) -> np.ndarray:
        if not getattr(wd, "two_class", False) and hasattr(wd, "predict_scores"):
            return np.asarray(wd.predict_scores([shoe_image])[0])  # (3, H, W)
        return np.asarray(wd.predict(shoe_image))

    return run
