"""LpS phase-1 training: foot-keypoint heatmaps on the shoe-leg set (paper §3.2)."""

from shoemodel.training.lps_keypoints.config import FootKeypointsConfig

__all__ = ["FootKeypointsConfig"]
