"""A tiny random WD saved in the folder layout `shoemodel train wd` writes, for the annotation tests."""

from __future__ import annotations

import json
from pathlib import Path


def save_tiny_wd(folder: Path, seed: int = 0, step: int = 7, image_size: int = 32, reads: str = "shoe_on_black") -> Path:
    """config.json (with the project's `shoemodel` settings) + model.safetensors + training_state/step.json."""
    from shoemodel.models.wd.predictor import WDPredictor

    wd = WDPredictor.from_config_random("tiny", image_size=image_size, seed=seed)
    wd.model.config.shoemodel = {"image_size": image_size, "two_class": False, "crop_to_content": True, "crop_margin": 0.1,
                                "input": reads}
    wd.model.save_pretrained(folder, safe_serialization=True)
    (folder / "training_state").mkdir(exist_ok=True)
    (folder / "training_state" / "step.json").write_text(json.dumps({"step": step}))
    return folder
