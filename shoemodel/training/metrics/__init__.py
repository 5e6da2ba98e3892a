"""Metrics of the paper's Table 5 (segmentation), PCK for foot keypoints, and pose-distribution checks."""
