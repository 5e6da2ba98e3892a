"""Training: WD (Segformer), LpS phase 1 (foot heatmaps) and phase 2 (keypoint DDPM), SW (ControlNet)."""
