"""The crop the shoe prior sees: a square around one person's feet, from the pose's foot points.

The side is `scale` x the larger of the feet's extent and `min_body_frac` of the person box height (a foot is
about 0.15 of a standing body, so a crop of feet whose points are bunched up, or sit on the instep, still holds
both shoes), centred on the foot points and moved `drop` x the side down (the soles lie below the heel/toe
points, never above the ankles). Training draws the same crop from the same points, jittered.
"""

from __future__ import annotations

import numpy as np

from shoemodel.schemas.keypoints import KEYPOINT_NAMES

FOOT_POINTS = tuple(KEYPOINT_NAMES.index(f"{s}_{p}") for s in ("left", "right")
                    for p in ("ankle", "heel", "big_toe", "small_toe"))
SCALE, MIN_BODY_FRAC, DROP = 1.5, 0.22, 0.08


def crop_square(keypoints: np.ndarray, person_box: np.ndarray | None = None, scale: float = SCALE,
                min_body_frac: float = MIN_BODY_FRAC, drop: float = DROP) -> tuple[float, float, float] | None:
    """(centre x, centre y, side) in image pixels of one person's feet crop, or None without two foot points."""
    k = np.asarray(keypoints, np.float32).reshape(-1, 3)
    pts = k[list(FOOT_POINTS)]
    return points_square(pts[pts[:, 2] > 0, :2], person_box, scale, min_body_frac, drop)


def points_square(pts: np.ndarray, person_box: np.ndarray | None = None, scale: float = SCALE,
                  min_body_frac: float = MIN_BODY_FRAC, drop: float = DROP) -> tuple[float, float, float] | None:
    """`crop_square` from the foot points themselves ((N, 2), both feet, image pixels)."""
    pts = np.asarray(pts, np.float32).reshape(-1, 2)
    if len(pts) < 2:
        return None
    lo, hi = pts.min(0), pts.max(0)
    extent = float(max(hi - lo))
    body = 0.0
    if person_box is not None and len(person_box) >= 4:
        body = min_body_frac * float(person_box[3] - person_box[1])
    side = scale * max(extent, body, 16.0)
    cx, cy = (lo + hi) / 2
    return float(cx), float(cy + drop * side), float(side)


def crop_matrix(square: tuple[float, float, float], size: int, zoom: float = 1.0, flip: bool = False) -> np.ndarray:
    """2 x 3 affine matrix mapping image pixels to crop pixels (size x size); `zoom` > 1 takes a larger square,
    `flip` mirrors the crop (another view of the same feet, for the prior's self-agreement)."""
    cx, cy, side = square
    s = size / (side * zoom)
    m = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)
    if flip:
        m[0] = -m[0]
        m[0, 2] += size
    return m


def warp(image: np.ndarray, matrix: np.ndarray, size: int, nearest: bool = False) -> np.ndarray:
    import cv2

    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA if matrix[0, 0] < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, matrix, (size, size), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def points_channel(keypoints: np.ndarray, matrix: np.ndarray, size: int, sigma_frac: float = 0.04) -> np.ndarray:
    """(size, size) float32 in [0, 1]: a Gaussian blob on each foot point inside the crop."""
    k = np.asarray(keypoints, np.float32).reshape(-1, 3)[list(FOOT_POINTS)]
    out = np.zeros((size, size), np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    sig = max(sigma_frac * size, 1.0)
    for x, y, s in k:
        if s <= 0:
            continue
        u, v = matrix @ np.array([x, y, 1.0], np.float32)
        np.maximum(out, np.exp(-((xx - u) ** 2 + (yy - v) ** 2) / (2 * sig * sig)), out=out)
    return out


def to_image(prob: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The crop's (size, size) map back on the image (H, W), 0 outside the crop; bilinear (float maps)."""
    import cv2

    h, w = shape
    inv = cv2.invertAffineTransform(matrix)
    return cv2.warpAffine(prob.astype(np.float32), inv, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
