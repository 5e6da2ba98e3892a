"""The phase-2 coordinate encoding (paper §3.2): pixels -> P / s * 0.9 + 0.1 per axis, missing = exactly 0.

The leg vector lives in [-1, 1] (2 * P_norm - 1, the usual DDPM data range); the foot condition stays in
{0} U [0.1, 1] so a missing point is distinguishable from a point on the image border.
"""

from __future__ import annotations

import numpy as np

from shoemodel.schemas.keypoints import FOOT_INDICES, LEG_INDICES
from shoemodel.schemas.normalize import normalize_coords


def encode_pose(k12: np.ndarray, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """(12, 3) pixel keypoints -> (leg vector (12,) in [-1, 1], foot condition (16,) in {0} U [0.1, 1])."""
    k = np.asarray(k12, np.float32)
    vis = k[:, 2] > 0
    norm = normalize_coords(k[:, :2], (width, height), vis)
    leg = norm[list(LEG_INDICES)].reshape(-1) * 2 - 1
    foot = norm[list(FOOT_INDICES)].reshape(-1)
    return leg.astype(np.float32), foot.astype(np.float32)


def encode_foot(foot8: np.ndarray, width: float, height: float) -> np.ndarray:
    """(8, 3) pixel foot keypoints -> the (16,) condition vector."""
    f = np.asarray(foot8, np.float32)
    return normalize_coords(f[:, :2], (width, height), f[:, 2] > 0).reshape(-1)
