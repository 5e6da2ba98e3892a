"""Pose: MediaPipe foot points vs COCO-WholeBody ground truth; ViTPose (tiny, 133 points) and mmpose adapters; filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation.config import PoseConfig
from shoemodel.curation.pose import (
    HEEL_DROP,
    build_pose,
    derive_heels,
    outside_box,
    pose_rows,
    quality_reason,
    to_shoeleg,
)
from shoemodel.curation.pose_mediapipe import WHOLEBODY_FROM_BLAZEPOSE, blazepose_to_wholebody
from shoemodel.schemas.keypoints import KEYPOINT_NAMES
from shoemodel.schemas.records import decode_image


def test_blazepose_mapping_to_the_12_keypoints() -> None:
    lm = np.zeros((33, 3), np.float32)
    lm[:, 0] = np.arange(33)  # x = BlazePose index, so the mapping is readable from the output
    lm[:, 2] = 1
    k = to_shoeleg(blazepose_to_wholebody(lm), 100, 100, 0.5)
    got = dict(zip(KEYPOINT_NAMES, k[:, 0].astype(int).tolist()))
    assert got == {"left_hip": 23, "right_hip": 24, "left_knee": 25, "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
                   "left_big_toe": 31, "left_small_toe": 0, "left_heel": 29,
                   "right_big_toe": 32, "right_small_toe": 0, "right_heel": 30}
    assert not {18, 21} & set(WHOLEBODY_FROM_BLAZEPOSE)  # the small toes: BlazePose has none
    assert k[KEYPOINT_NAMES.index("left_small_toe")].tolist() == [0, 0, 0]


@pytest.mark.fixtures
def test_mediapipe_foot_points_match_coco_wholebody(coco_dir: Path, wholebody_gt: dict, gt_shoeleg, mediapipe_installed) -> None:
    """On every annotated person with both feet visible, BlazePose's ankles/big toes/heels land near the ground truth."""
    est = build_pose(PoseConfig(backend="mediapipe"))
    compared, errors = 0, []
    check = [KEYPOINT_NAMES.index(n) for n in ("left_ankle", "right_ankle", "left_big_toe", "left_heel", "right_big_toe", "right_heel")]
    for name, anns in wholebody_gt.items():
        image = decode_image((coco_dir / name).read_bytes(), "RGB")
        for a in anns:
            gt = gt_shoeleg(a)
            if not all(gt[check, 2] > 0):
                continue
            x, y, w, h = a["bbox"]
            pred = to_shoeleg(est.estimate(image, np.array([[x, y, x + w, y + h, 1]], np.float32))[0], image.shape[1], image.shape[0], 0.3)
            scale = max(w, h)
            for i in check:
                if pred[i, 2] > 0:
                    compared += 1
                    errors.append(np.hypot(*(pred[i, :2] - gt[i, :2])) / scale)
    assert compared >= 18, f"only {compared} foot points compared"
    errors = np.asarray(errors)
    # Tolerance: 5% of the person box for the median, 10% for 90% of points (BlazePose toe tip != COCO big toe).
    assert np.median(errors) < 0.05 and np.mean(errors < 0.10) >= 0.9, errors.round(3)  # measured: median 0.016, p90 0.035


@pytest.mark.fixtures
def test_vitpose_tiny_133_point_head_runs_on_photos(coco_dir: Path) -> None:
    import torch

    from shoemodel.curation.pose_vitpose import VitPoseWholeBody
    from tests.helpers.tiny_models import tiny_vitpose

    torch.manual_seed(0)
    model = tiny_vitpose(num_labels=133, num_experts=2)
    est = VitPoseWholeBody(model=model, dataset_index=1)
    files = sorted(coco_dir.glob("*.jpg"))[:2]
    images = [decode_image(f.read_bytes(), "RGB") for f in files]
    boxes = [np.array([[10, 10, 200, 300, 0.9], [50, 20, 150, 200, 0.8]], np.float32), np.array([[0, 0, 100, 100, 1]], np.float32)]
    out = est.estimate_batch(images, boxes)
    assert [o.shape for o in out] == [(2, 133, 3), (1, 133, 3)]
    for o, b in zip(out, boxes):  # mapped back to image pixels around each person box, not heatmap cells
        # (random heatmaps make DARK refinement throw single points far off, so the median is checked)
        c, s = (b[:, :2] + b[:, 2:4]) / 2, (b[:, 2:4] - b[:, :2]).max(-1, keepdims=True)
        assert np.isfinite(o).all() and np.all(np.abs(np.median(o[..., :2], axis=1) - c) <= s)
    rows = [{"source_uri": str(f), "content_hash": "h", "image": f.read_bytes(), "boxes": b.reshape(-1).tolist()} for f, b in zip(files, boxes)]
    res = pose_rows(rows, est, PoseConfig(min_point_score=0.0, min_complete_feet=0, min_leg_frac=0, max_leg_frac=99,
                                                 box_slack=99, max_foot_frac=99, max_foot_calf_ratio=99, check_left_right=False))
    assert [r["status"] for r in res] == ["kept", "kept"] and len(res[0]["keypoints"]) == 72  # two persons, each its own
    assert res[0]["person_index"] == [0, 1] and len(res[0]["person_box"]) == 10


def test_vitpose_and_mmpose_missing_files_are_named(tmp_path: Path) -> None:
    from shoemodel.models.weights import WeightsNotFound

    with pytest.raises(WeightsNotFound, match="vitpose-wholebody"):
        build_pose(PoseConfig(backend="vitpose", weights=str(tmp_path / "vitpose-wholebody")))
    try:
        import mmpose  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="optional extra"):
            build_pose(PoseConfig(backend="mmpose", config="c.py", weights="w.pth"))
    with pytest.raises(ValueError, match="unknown"):
        build_pose(PoseConfig(backend="openpose"))


def _person(**points: tuple[float, float]) -> np.ndarray:
    k = np.zeros((12, 3), np.float32)
    for name, (x, y) in points.items():
        k[KEYPOINT_NAMES.index(name)] = (x, y, 0.9)
    return k


def test_quality_filters() -> None:
    cfg = PoseConfig(foot_points=["ankle", "big_toe", "heel"], min_complete_feet=1, min_leg_frac=0.1, max_leg_frac=0.6)
    box = np.array([0, 0, 100, 200, 1], np.float32)
    good = _person(left_knee=(50, 120), left_ankle=(50, 170), left_big_toe=(60, 185), left_heel=(45, 180))
    assert quality_reason(good, box, cfg) is None
    no_heel = good.copy()
    no_heel[KEYPOINT_NAMES.index("left_heel")] = 0
    assert quality_reason(no_heel, box, cfg).startswith("no complete foot")
    long_leg = _person(left_knee=(50, 10), left_ankle=(50, 170), left_big_toe=(60, 185), left_heel=(45, 180))
    assert quality_reason(long_leg, box, cfg).startswith("leg length")
    assert quality_reason(good, box, PoseConfig(min_complete_feet=2)).startswith("no complete foot")
    wb = np.zeros((133, 3), np.float32)
    wb[15] = (50, 170, 0.4)  # below min score -> missing
    wb[16] = (150, 170, 0.9)  # outside a 100-px-wide image -> missing
    wb[17] = (60, 185, 0.9)
    k = to_shoeleg(wb, 100, 200, 0.5)
    assert k[4].tolist() == [0, 0, 0] and k[5].tolist() == [0, 0, 0] and k[6].tolist() == pytest.approx([60, 185, 0.9])


def test_pose_sanity_points_belong_to_the_person() -> None:
    """Points outside the box are another person's; bones too long for the box; feet swapped left/right."""
    cfg = PoseConfig()
    box = np.array([0, 0, 100, 200, 1], np.float32)
    both = dict(left_hip=(30, 100), right_hip=(70, 100), left_knee=(27, 140), right_knee=(73, 140),
                left_ankle=(25, 180), right_ankle=(75, 180), left_big_toe=(12, 195), left_heel=(27, 192),
                right_big_toe=(88, 195), right_heel=(73, 192))
    assert quality_reason(_person(**both), box, cfg) is None
    far = _person(**{**both, "left_big_toe": (160, 195), "right_big_toe": (170, 195)})  # toes on someone to the right
    assert quality_reason(far, box, cfg).startswith("no complete foot")
    assert outside_box(far, box, 0.1)[KEYPOINT_NAMES.index("left_big_toe")]
    thigh = _person(**{**both, "left_hip": (40, -90)})
    assert quality_reason(thigh, box, PoseConfig(box_slack=1.0)).startswith("leg length: left hip-knee")
    toe_on_floor = _person(**{**both, "right_big_toe": (99, 198), "right_knee": (75, 165)})  # foot 2 x the calf
    assert quality_reason(toe_on_floor, box, cfg).startswith("foot length: right ankle-big_toe")
    swapped = _person(**{**both, "left_heel": (73, 192), "right_heel": (27, 192)})  # heels on the other feet
    crossed = dict(both, left_ankle=(48, 180), right_ankle=(52, 180))  # ankles together: sides cannot be told
    assert quality_reason(_person(**{**crossed, "left_heel": (55, 192), "right_heel": (45, 192)}), box, cfg) is None
    assert quality_reason(swapped, box, cfg).startswith("left/right mixed")
    # without the side check the long cross-over "foot" is still caught by its length
    assert quality_reason(swapped, box, PoseConfig(check_left_right=False)).startswith("foot length")


def test_weak_heel_is_placed_under_the_ankle_not_dropped() -> None:
    """Ankle and big toe confident, heel at 0.3 (< min_point_score): the heel goes on the knee->ankle line,
    HEEL_DROP x the ankle-to-toe distance below the ankle, keeping its low score; the foot becomes complete.
    No heel at all (score 0) or a weak toe: nothing is made up."""
    cfg = PoseConfig()
    box = np.array([0, 0, 100, 200, 1], np.float32)
    raw = _person(left_hip=(50, 80), left_knee=(50, 130), left_ankle=(50, 170), left_big_toe=(80, 170), left_heel=(47, 178))
    raw[KEYPOINT_NAMES.index("left_heel"), 2] = 0.3
    k = raw.copy()
    k[raw[:, 2] < cfg.min_point_score] = 0
    assert quality_reason(k, box, cfg).startswith("no complete foot")
    d = derive_heels(k, raw)
    heel = d[KEYPOINT_NAMES.index("left_heel")]
    assert heel.tolist() == pytest.approx([50, 170 + HEEL_DROP * 30, 0.3])
    assert quality_reason(d, box, cfg) is None
    none = raw.copy()
    none[KEYPOINT_NAMES.index("left_heel")] = 0
    assert derive_heels(k, none)[KEYPOINT_NAMES.index("left_heel")].tolist() == [0, 0, 0]
    weak_toe = k.copy()
    weak_toe[KEYPOINT_NAMES.index("left_big_toe")] = 0
    assert derive_heels(weak_toe, raw)[KEYPOINT_NAMES.index("left_heel")].tolist() == [0, 0, 0]


def test_pose_rows_keep_every_passing_person_with_its_detect_index() -> None:
    """Three boxes, the middle one's points fail: the row holds persons 0 and 2, in detect order."""
    from shoemodel.curation.pose import pose_rows
    from shoemodel.schemas.keypoints import WHOLEBODY_INDEX

    class Fixed:
        name, version = "fixed", "1"

        def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
            out = np.zeros((len(boxes), 133, 3), np.float32)
            for i, b in enumerate(boxes):
                k = _person(left_knee=(20, 140), left_ankle=(20, 175), left_big_toe=(32, 190), left_heel=(15, 188))
                k[:, :2] += b[:2]
                if i == 1:
                    k[:, 2] = 0  # nothing found
                out[i, list(WHOLEBODY_INDEX)] = k
            return out

    from shoemodel.schemas.records import encode_png

    image = encode_png(np.zeros((220, 400, 3), np.uint8))
    boxes = np.array([[0, 0, 100, 200, 0.9], [120, 0, 220, 200, 0.9], [250, 0, 350, 200, 0.8]], np.float32)
    (row,) = pose_rows([{"source_uri": "u", "content_hash": "h", "image": image, "boxes": boxes.reshape(-1).tolist()}],
                       Fixed(), PoseConfig(min_leg_frac=0.1))
    assert row["status"] == "kept" and row["person_index"] == [0, 2]
    assert np.asarray(row["person_box"]).reshape(-1, 5)[:, 0].tolist() == [0, 250]
    k = np.asarray(row["keypoints"]).reshape(-1, 12, 3)
    assert k[1, KEYPOINT_NAMES.index("left_ankle"), 0] == pytest.approx(270)


def test_vitpose_loads_a_checkpoint_folder_by_path(tmp_path: Path) -> None:
    import torch

    from tests.helpers.tiny_models import tiny_vitpose

    torch.manual_seed(0)
    tiny_vitpose(num_labels=133).save_pretrained(tmp_path / "vitpose-wb-tiny")
    est = build_pose(PoseConfig(backend="vitpose", weights=str(tmp_path / "vitpose-wb-tiny")))
    image = np.zeros((120, 90, 3), np.uint8)
    out = est.estimate(image, np.array([[10, 10, 80, 110, 1]], np.float32))
    assert out.shape == (1, 133, 3) and np.isfinite(out).all()


def test_heel_and_toe_given_to_the_wrong_foot_are_repaired() -> None:
    """Heels swapped between the feet come back to their own feet; a toe put on the other shoe (two toes on one
    shoe) is dropped; without the repair the same points fail the left/right check."""
    from shoemodel.curation.pose import repair_left_right

    box = np.array([0, 0, 100, 200, 1], np.float32)
    both = dict(left_hip=(30, 100), right_hip=(70, 100), left_knee=(27, 140), right_knee=(73, 140),
                left_ankle=(25, 180), right_ankle=(75, 180), left_big_toe=(12, 195), left_heel=(27, 192),
                right_big_toe=(88, 195), right_heel=(73, 192))
    swapped = _person(**{**both, "left_heel": (73, 192), "right_heel": (27, 192)})
    fixed = repair_left_right(swapped, 0.3)
    assert np.array_equal(fixed, _person(**both))
    lone = _person(**{**both, "left_big_toe": (86, 196)})  # the left toe on the right shoe
    out = repair_left_right(lone, 0.3)
    assert out[KEYPOINT_NAMES.index("left_big_toe")].tolist() == [0, 0, 0]
    assert np.array_equal(np.delete(out, KEYPOINT_NAMES.index("left_big_toe"), 0),
                          np.delete(lone, KEYPOINT_NAMES.index("left_big_toe"), 0))
    weak = swapped.copy()
    weak[KEYPOINT_NAMES.index("left_heel"), 2] = weak[KEYPOINT_NAMES.index("right_heel"), 2] = 0.1
    assert np.array_equal(repair_left_right(weak, 0.3), weak)  # unsure points are not the model's word: untouched
    assert quality_reason(swapped, box, PoseConfig()).startswith("left/right mixed")
    assert quality_reason(fixed, box, PoseConfig()) is None
