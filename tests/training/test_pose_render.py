"""X_p renderer: the shared drawing of the 12 keypoints (also used by SW)."""

from __future__ import annotations

import numpy as np
import pytest

from shoemodel.models.pose_render import render_pose
from shoemodel.schemas.keypoints import KEYPOINT_COLORS, SKELETON, SKELETON_COLORS


def _pose() -> np.ndarray:
    k = np.zeros((12, 3), np.float32)
    k[:, 0] = [40, 60, 40, 60, 40, 60, 30, 35, 42, 70, 65, 58]
    k[:, 1] = [10, 10, 30, 30, 50, 50, 60, 58, 55, 60, 58, 55]
    k[:, 2] = 1
    return k


def test_shape_is_height_width_and_black_background():
    img = render_pose(_pose(), (100, 70))
    assert img.shape == (70, 100, 3) and img.dtype == np.uint8
    assert (img[0:3, 0:3] == 0).all()


def test_limbs_and_joints_use_the_schema_colours():
    k = _pose()
    img = render_pose(k, (100, 70), line_width=3)
    e = SKELETON.index((0, 2))  # left thigh, from (40,10) to (40,30): its midpoint is far from any joint
    assert tuple(img[20, 40]) == SKELETON_COLORS[e]
    assert tuple(img[10, 60]) == KEYPOINT_COLORS[1]  # right hip joint drawn over the pelvis line


def test_missing_points_and_their_limbs_are_not_drawn():
    k = _pose()
    k[0] = 0  # left hip missing
    img = render_pose(k, (100, 70), line_width=3)
    assert (img[20, 40] == 0).all()
    assert (img[10, 40] == 0).all()


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        render_pose(np.zeros((8, 3)), (64, 64))
