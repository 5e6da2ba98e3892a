"""LpS phase 2: leg-pose diffusion over keypoint coordinates, conditioned on the foot (paper §3.2)."""

from shoemodel.training.lps_diffusion.config import LegDiffusionConfig
from shoemodel.training.lps_diffusion.sample import LegPoseSampler

__all__ = ["LegDiffusionConfig", "LegPoseSampler"]
