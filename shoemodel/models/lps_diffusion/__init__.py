"""LpS phase 2 at inference: the leg-pose DDPM sampler over keypoint coordinates (paper §3.2)."""

from shoemodel.models.lps_diffusion.sampler import LegPoseSampler

__all__ = ["LegPoseSampler"]
