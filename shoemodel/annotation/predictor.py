"""The pluggable WD predictor: any callable image (H, W, 3) uint8 -> 3-class mask or probabilities.

Loaded lazily from a "module:factory" spec so this area never imports the training code at import
time. A predictor may return class ids (H, W) or probabilities (H, W, 3) / (3, H, W); only
probabilities give an uncertainty for choosing the next round's images.

What it reads is its `reads` attribute, as WD's checkpoint records it: "shoe_on_black" (X_m, the default
for a plain callable) or "photo" (the product photo as given, framed by the box of `content`, the shoe's
pixels). `record_input` / `photo_input` make that input from a pool record or a bare task photo, so a
round's pre-annotations, its uncertainty ranking and the ML backend all feed WD what it was trained on.
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


def reads(predictor: Any) -> str:
    """What a predictor takes: "photo" or "shoe_on_black" (a plain callable: X_m)."""
    return getattr(predictor, "reads", "shoe_on_black")


def record_input(predictor: Any, rec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """(image, content) WD reads for a wearable-area record: its photo and the shoe's pixels for a
    photo-trained WD, else X_m (`shoe_image`) and None."""
    from shoemodel.schemas.records import decode_image

    shoe = decode_image(rec["shoe_image"], "RGB", "shoe_image", rec.get("id"))
    if reads(predictor) != "photo":
        return shoe, None
    photo = decode_image(rec["image"], "RGB", "image", rec.get("id"))
    if photo.shape != shoe.shape:
        raise ValueError(f"record {rec.get('id')}: image is {photo.shape[1]}x{photo.shape[0]} but shoe_image is "
                         f"{shoe.shape[1]}x{shoe.shape[0]}")
    return photo, shoe.max(-1) > 0


def photo_input(predictor: Any, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(image, content) WD reads for a bare product photo (a task with no pool record): the photo framed by
    the studio-background remover's foreground, or that foreground's shoe on black."""
    from shoemodel.pipelines.foreground import remove_studio_background

    fg = remove_studio_background(photo)
    if reads(predictor) == "photo":
        return photo, fg if fg.any() else None
    return np.where(fg[..., None], photo, 0).astype(np.uint8), None


def predict(predictor: Predictor, image: np.ndarray, content: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Run the predictor (with `content` when it reads photos); return (class-id mask uint8, probabilities (H, W, 3) or None)."""
    out = np.asarray(predictor(image, content) if reads(predictor) == "photo" else predictor(image))
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


class WDAsPredictor:
    """A WDPredictor-like object as a predictor: 3-class probabilities when it has them, else its class ids;
    `reads` is the model's own (from its checkpoint)."""

    def __init__(self, wd: Any):
        self.wd = wd
        self.reads = reads(wd)

    def __call__(self, image: np.ndarray, content: np.ndarray | None = None) -> np.ndarray:
        if not getattr(self.wd, "two_class", False) and hasattr(self.wd, "predict_scores"):
            return np.asarray(self.wd.predict_scores([image], [content])[0])  # (3, H, W)
        return np.asarray(self.wd.predict(image))


def from_wd_predictor(wd: Any) -> Predictor:
    """Adapt a WDPredictor-like object (see WDAsPredictor)."""
    return WDAsPredictor(wd)
