"""Render the pose image X_p from the 12 shoe-leg keypoints (paper §3.2, Fig. 4b).

One renderer for SW training targets and for inference, so the ControlNet sees at inference exactly
the drawing style it was trained on. Skeleton, limb colours and point colours come from
`shoemodel.schemas.keypoints`; a point with score/visibility <= `min_score` is not drawn, nor any
limb touching it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from shoemodel.schemas.keypoints import KEYPOINT_COLORS, NUM_KEYPOINTS, SKELETON, SKELETON_COLORS


def default_line_width(size: tuple[int, int]) -> int:
    """Limb width in pixels: about 4 px at 512 (OpenPose-like), never below 1."""
    return max(1, round(min(size) / 128))


def render_pose(keypoints12: np.ndarray, size: tuple[int, int], line_width: int | None = None,
                min_score: float = 0.0) -> np.ndarray:
    """Draw limbs then joints on black; returns (H, W, 3) uint8.

    `keypoints12` is (12, 3) x, y, score in pixel coordinates of the output; `size` is (width, height),
    PIL's order (so a 768x512 portrait is size=(512, 768) and the result has shape (768, 512, 3)).
    """
    k = np.asarray(keypoints12, dtype=np.float32)
    if k.shape != (NUM_KEYPOINTS, 3):
        raise ValueError(f"render_pose: expected keypoints of shape ({NUM_KEYPOINTS}, 3), got {k.shape}")
    width, height = int(size[0]), int(size[1])
    if width <= 0 or height <= 0:
        raise ValueError(f"render_pose: size must be positive (width, height), got {size}")
    lw = default_line_width((width, height)) if line_width is None else int(line_width)
    present = (k[:, 2] > min_score) & np.all(np.isfinite(k[:, :2]), axis=1)
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for (a, b), colour in zip(SKELETON, SKELETON_COLORS, strict=True):
        if present[a] and present[b]:
            draw.line([(float(k[a, 0]), float(k[a, 1])), (float(k[b, 0]), float(k[b, 1]))], fill=colour, width=lw)
    r = lw + 1
    for i in np.flatnonzero(present):
        x, y = float(k[i, 0]), float(k[i, 1])
        draw.ellipse([x - r, y - r, x + r, y + r], fill=KEYPOINT_COLORS[i])
    return np.asarray(canvas, dtype=np.uint8)
