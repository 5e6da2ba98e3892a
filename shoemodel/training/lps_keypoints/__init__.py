"""LpS phase 1: foot keypoints from the shoe image with ViTPose-style heatmaps (paper §3.2)."""

from shoemodel.training.lps_keypoints.config import FootKeypointsConfig
from shoemodel.training.lps_keypoints.predict import FootKeypointPredictor

__all__ = ["FootKeypointPredictor", "FootKeypointsConfig"]
