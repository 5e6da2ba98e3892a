"""LpS phase 1 at inference: foot-keypoint heatmaps from the shoe image (paper §3.2)."""

from shoemodel.models.lps_keypoints.predictor import FootKeypointPredictor

__all__ = ["FootKeypointPredictor"]
