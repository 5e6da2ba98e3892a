"""Every model loads from its saved folder in a fresh interpreter.

Inside one pytest process another test may already have imported torchvision's fallbacks, which hides a
loader that imports transformers or diffusers before `prepare_imports()`. `dvc repro` runs each stage in
its own process, so this test does too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LOAD = {
    "wd": "from shoemodel.models.wd import WDPredictor as C; m = C.from_checkpoint(PATH); print(m.predict(IMG).shape)",
    "lps_keypoints": "from shoemodel.models.lps_keypoints import FootKeypointPredictor as C; m = C.from_checkpoint(PATH); "
                     "print(m.predict(IMG).shape)",
    "lps_diffusion": "from shoemodel.models.lps_diffusion import LegPoseSampler as C; m = C.from_checkpoint(PATH); "
                     "import numpy as np; print(m.sample(np.zeros((8, 3), np.float32), (64, 64), 2, 0).shape)",
}
EXPECTED = {"wd": "(64, 64)", "lps_keypoints": "(8, 3)", "lps_diffusion": "(2, 12, 3)"}


def _save(kind: str, folder: Path) -> None:
    """Save an untrained model of the real class the way its trainer does."""
    import torch

    torch.manual_seed(0)
    if kind == "wd":
        from shoemodel.models.wd import WDPredictor

        p = WDPredictor.from_config_random("tiny", image_size=32)
        p.model.config.shoemodel = {"image_size": 32, "two_class": False}
        p.model.save_pretrained(folder, safe_serialization=True)
    elif kind == "lps_keypoints":
        from shoemodel.models.lps_keypoints import FootKeypointPredictor

        p = FootKeypointPredictor.from_config_random("tiny", image_size=32)
        p.model.config.shoemodel = {"image_size": 32}
        p.model.save_pretrained(folder, safe_serialization=True)
    else:
        from shoemodel.models.lps_diffusion import LegPoseSampler
        from shoemodel.models.lps_diffusion.model import LegPoseDenoiser

        LegPoseSampler(LegPoseDenoiser(32, 1, 16), {"num_train_timesteps": 25}, "cpu").save(folder)


@pytest.mark.parametrize("kind", sorted(LOAD))
def test_checkpoint_loads_and_predicts_in_a_new_process(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / kind
    _save(kind, folder)
    code = (f"import numpy as np; PATH = {str(folder)!r}; IMG = np.full((64, 64, 3), 90, np.uint8); "
            + LOAD[kind])
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == EXPECTED[kind]
