"""Settings of the synthetic sample (`sample` section).

Light on purpose: every command reads these classes (shoemodel.config_registry), so this module imports
nothing heavy and its edits rerun only what reads the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoemodel.config import ParamPath


@dataclass
class SampleConfig:
    """params.yaml `sample`: how much synthetic data to make and how."""

    out: ParamPath = "data/sample"
    size: int = 256
    n_shoe_leg: int = 512
    n_wearable_area: int = 384
    seed: int = 0
    jpeg_quality: int = 95
    val_fraction: float = 0.1
    test_fraction: float = 0.1
