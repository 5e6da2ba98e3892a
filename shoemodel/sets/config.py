"""Settings of the labelled-set builder (`sets`) and of the merge into training sets (`merge`).

Light on purpose: every command reads these classes (shoemodel.config_registry), so this module imports
nothing heavy and its edits rerun only what reads the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoemodel.config import ParamPath
from shoemodel.curation.config import IngestConfig


@dataclass
class MergeSpec:
    """One merged set: its inputs (priority order) and where it is written."""

    inputs: list[ParamPath] = field(default_factory=list)
    out: ParamPath = ""


@dataclass
class MergeConfig:
    """params.yaml `merge`: the two training sets and how records without a split are assigned one."""

    #: Input order decides whose labels win (the first input holding a photo): human labels before machine ones.
    #: The labelled set's keypoints are exact (drawn, or given by a person) so they beat curation's detected ones;
    #: an annotator's correction beats the label it corrects. This is the one place of the order (dvc.yaml's
    #: merge@SET deps copy it: tests/foundation/test_merge.py checks they agree).
    shoe_leg: MergeSpec = field(default_factory=lambda: MergeSpec(
        ["data/sets/shoe_leg", "data/curation/shoe_leg"], "data/sets/train/shoe_leg"))
    wearable_area: MergeSpec = field(default_factory=lambda: MergeSpec(
        ["data/sets/wearable_area_annotated", "data/sets/wearable_area"], "data/sets/train/wearable_area"))
    records_per_shard: int = 128
    val_fraction: float = 0.05  # only for records whose input gave no split
    test_fraction: float = 0.05


@dataclass
class SetsConfig:
    """params.yaml `sets`: shard size, decode-checks, the pixel limit, and whether files may lie outside the folder."""

    records_per_shard: int = 128
    decode_check: bool = True
    max_pixels: int = IngestConfig().max_pixels  # the same limit as curation (decompression bombs)
    allow_outside: bool = False  # image/mask paths may leave the labelled folder (`..`, absolute paths)
