"""LpS phase-2 training: the leg-pose DDPM over keypoint coordinates (paper §3.2)."""

from shoemodel.training.lps_diffusion.config import LegDiffusionConfig

__all__ = ["LegDiffusionConfig"]
