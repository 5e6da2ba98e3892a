"""Metric code against hand-made masks, keypoints and poses with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shoemodel.training.metrics.keypoints import keypoint_metrics, pck
from shoemodel.training.metrics.poses import ankle_agreement, bone_ratios, diversity, knee_angles, mmd_rbf, within_range
from shoemodel.training.metrics.segmentation import confusion_matrix, segmentation_metrics

NAMES = ("background", "visible", "wearable")


def test_confusion_matrix_rows_are_ground_truth():
    gt = np.array([[0, 0, 1, 2]])
    pred = np.array([[0, 1, 1, 1]])
    conf = confusion_matrix(pred, gt, 3)
    assert conf.tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def test_table5_definitions_on_a_hand_made_mask():
    # 100 pixels: 90 background, 8 visible, 2 wearable. Prediction: background right, 6 of 8 visible right
    # (2 called wearable), wearable both called visible.
    gt = np.array([0] * 90 + [1] * 8 + [2] * 2)
    pred = np.array([0] * 90 + [1] * 6 + [2] * 2 + [1] * 2)
    m = segmentation_metrics(confusion_matrix(pred, gt, 3), NAMES)
    assert m["background/IoU"] == pytest.approx(100.0)
    assert m["visible/IoU"] == pytest.approx(100 * 6 / 10)  # union = 8 gt + 8 predicted - 6
    assert m["visible/Acc"] == pytest.approx(100 * 6 / 8)
    assert m["wearable/IoU"] == pytest.approx(0.0)
    assert m["wearable/Acc"] == pytest.approx(0.0)
    assert m["mIoU"] == pytest.approx((100 + 60 + 0) / 3)
    assert m["mAcc"] == pytest.approx((100 + 75 + 0) / 3)
    # aAcc counts pixels, so the big background dominates it: 96 of 100, far above mAcc.
    assert m["aAcc"] == pytest.approx(96.0)
    assert m["aAcc"] > m["mAcc"]


def test_absent_class_is_left_out_of_means():
    gt = np.array([0, 0, 1, 1])
    m = segmentation_metrics(confusion_matrix(gt, gt, 3), NAMES)
    assert math.isnan(m["wearable/IoU"])
    assert m["mIoU"] == pytest.approx(100.0)


def test_ignore_index_and_bad_ids():
    assert confusion_matrix(np.array([0, 2]), np.array([0, 255]), 3).sum() == 1
    with pytest.raises(ValueError):
        confusion_matrix(np.array([3]), np.array([0]), 3)


def test_pck_and_per_point_error():
    target = np.zeros((1, 8, 3))
    target[0, :, 2] = 1
    target[0, 7, 2] = 0  # missing: ignored whatever is predicted
    pred = target.copy()
    pred[0, 0, 0] += 4  # 4 px off in a 100 px image: 0.04
    pred[0, 1, 1] += 8  # 0.08
    pred[0, 2, 0] += 20  # 0.2
    pred[0, 7, 0] += 50
    sizes = np.array([100.0])
    assert pck(pred, target, sizes, 0.05) == pytest.approx(5 / 7)
    assert pck(pred, target, sizes, 0.1) == pytest.approx(6 / 7)
    m = keypoint_metrics(pred, target, sizes, tuple(f"k{i}" for i in range(8)))
    assert m["PCK@0.05"] == pytest.approx(100 * 5 / 7)
    assert m["error/k0"] == pytest.approx(4.0)
    assert m["error/k2"] == pytest.approx(20.0)
    assert math.isnan(m["error/k7"])
    assert m["mean_error"] == pytest.approx(100 * (0.04 + 0.08 + 0.2) / 7)


def _leg(hip, knee, ankle, vis=1.0):
    p = np.zeros((6, 3))
    p[0, :2], p[2, :2], p[4, :2] = hip, knee, ankle
    p[1, :2], p[3, :2], p[5, :2] = hip, knee, ankle
    p[:, 2] = vis
    return p


def test_bone_ratio_and_knee_angle_by_hand():
    straight = _leg((0, 0), (0, 2), (0, 3))  # thigh 2, calf 1, straight
    bent = _leg((0, 0), (0, 1), (1, 1))  # right angle at the knee
    r = bone_ratios(np.stack([straight, bent]))
    a = knee_angles(np.stack([straight, bent]))
    assert r[0].tolist() == pytest.approx([2.0, 2.0])
    assert r[1].tolist() == pytest.approx([1.0, 1.0])
    assert a[0].tolist() == pytest.approx([180.0, 180.0])
    assert a[1].tolist() == pytest.approx([90.0, 90.0])
    missing = _leg((0, 0), (0, 1), (1, 1))
    missing[0, 2] = 0
    assert math.isnan(bone_ratios(missing[None])[0, 0]) and not math.isnan(bone_ratios(missing[None])[0, 1])


def test_within_range_and_diversity():
    ref = np.arange(101, dtype=float)
    assert within_range(np.array([50.0, 500.0]), ref, (0, 100)) == 0.5
    s = np.array([[[0.0, 0.0], [3.0, 4.0]]])  # one condition, two samples 5 apart
    assert diversity(s) == pytest.approx(5.0)
    assert diversity(np.zeros((2, 3, 4))) == 0.0


def test_mmd_separates_distributions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))
    c = rng.normal(loc=1.5, size=(200, 4))
    assert abs(mmd_rbf(a, b, 1.0)) < 0.02
    assert mmd_rbf(a, c, 1.0) > 0.2


def test_ankle_agreement():
    leg = _leg((0, 0), (0, 0.5), (0.5, 1.0))[None]
    foot = np.zeros((1, 8, 3))
    foot[0, 0] = (0.5, 1.0, 1)  # left ankle: agrees
    foot[0, 4] = (0.9, 1.0, 1)  # right ankle: 0.4 away
    assert ankle_agreement(leg, foot, 0.05) == 0.5
