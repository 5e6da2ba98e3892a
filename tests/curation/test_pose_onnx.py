"""Whole-body pose from RTMW / DWPose ONNX files: SimCC decoding, the top-down crop, the 133 -> 12 mapping
checked on COCO-WholeBody ground truth, and `curate run` end to end with a tiny ONNX of RTMW's signature."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation import simcc
from shoemodel.curation.config import PoseConfig
from shoemodel.curation.pose import build_pose, to_shoeleg
from shoemodel.schemas.keypoints import KEYPOINT_NAMES, wholebody_to_shoeleg
from tests.helpers.tiny_models import RTMW_INPUT_HW, standing_leg_peaks, write_tiny_rtmw_onnx

onnx = pytest.importorskip("onnx", reason="onnx (test extra) makes the tiny ONNX files")

#: COCO-WholeBody's 6 foot points (17-22), in the dataset's order (mmpose's coco_wholebody metainfo).
WHOLEBODY_FOOT = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")


def test_decode_simcc_known_peaks() -> None:
    sx, sy = np.full((2, 3, 20), -1.0, np.float32), np.full((2, 3, 30), -1.0, np.float32)
    sx[0, 0, 7], sy[0, 0, 11] = 0.9, 0.6  # score: the weaker axis
    sx[0, 1, 0], sy[0, 1, 29] = 0.3, 0.8
    sx[1, 2, 19], sy[1, 2, 4] = 0.7, 0.7
    locs, scores = simcc.decode_simcc(sx, sy, 2.0)
    assert locs[0, 0].tolist() == [3.5, 5.5] and scores[0, 0] == pytest.approx(0.6)
    assert locs[0, 1].tolist() == [0.0, 14.5] and scores[0, 1] == pytest.approx(0.3)
    assert locs[1, 2].tolist() == [9.5, 2.0] and scores[1, 2] == pytest.approx(0.7)
    assert scores[0, 2] == 0 and scores[1, 0] == 0  # no positive peak: score 0, never negative
    assert simcc.split_ratio(576, 288) == 2.0 and simcc.split_ratio(768, 384) == 2.0
    with pytest.raises(ValueError, match="same N, K"):
        simcc.decode_simcc(sx, sy[:, :2], 2.0)


def test_crop_centres_the_padded_box_at_the_input_aspect_and_maps_back() -> None:
    w_in, h_in = 48, 64
    image = np.zeros((200, 300, 3), np.uint8)
    box = np.array([100, 40, 140, 160, 1], np.float32)  # 40 x 120: taller than 3:4, so the width grows
    image[98:103, 118:123] = 255  # a dot at the box centre (120, 100)
    center, scale = simcc.box_center_scale(box, (w_in, h_in), 1.25)
    assert center.tolist() == [120, 100] and scale.tolist() == pytest.approx([150 * 0.75, 150])
    crop, c, s = simcc.crop_person(image, box, (w_in, h_in), 1.25)
    raw = crop.transpose(1, 2, 0) * simcc.STD_RGB + simcc.MEAN_RGB
    y, x = np.unravel_index(raw[..., 0].argmax(), raw.shape[:2])
    assert abs(x - w_in / 2) <= 1 and abs(y - h_in / 2) <= 1
    pts = np.array([[0, 0], [w_in, h_in], [w_in / 2, h_in / 2]], np.float32)
    assert np.allclose(simcc.to_image(pts, c, s, (w_in, h_in)), [[120 - 56.25, 25], [120 + 56.25, 175], [120, 100]])


def test_onnx_backend_reads_the_rtmw_signature_and_maps_points_back(tmp_path: Path) -> None:
    """Peaks placed at known crop pixels come back at the box's image pixels, for a dynamic and a fixed batch."""
    h, w = RTMW_INPUT_HW
    peaks = standing_leg_peaks()
    images = [np.zeros((480, 640, 3), np.uint8), np.zeros((300, 200, 3), np.uint8)]
    boxes = [np.array([[100, 50, 220, 450, 0.9], [300, 100, 400, 300, 0.8]], np.float32), np.zeros((0, 5), np.float32)]
    results = []
    for dynamic in (True, False):
        path = write_tiny_rtmw_onnx(tmp_path / f"rtmw_{dynamic}.onnx", dynamic_batch=dynamic, peaks=peaks)
        est = build_pose(PoseConfig(backend="onnx_wholebody", weights=str(path)))
        assert est.input_wh == (w, h) and est.output_names == ["simcc_x", "simcc_y"]
        assert (est.fixed_batch is None) == dynamic and "CPUExecutionProvider" in est.version
        out = est.estimate_batch(images, boxes)
        assert [o.shape for o in out] == [(2, 133, 3), (0, 133, 3)]
        results.append(out[0])
    assert np.allclose(results[0], results[1], atol=1e-4)
    for person, b in zip(results[0], boxes[0]):
        bh = (b[3] - b[1]) * 1.25  # height-limited box: the crop is 1.25 box heights tall, 3:4 wide
        scale = np.array([bh * w / h, bh])
        expect = (b[:2] + b[2:4]) / 2 + (np.round(peaks * 2) / 2 / [w, h] - 0.5) * scale
        assert np.abs(person[:, :2] - expect).max() < 1e-2 and (person[:, 2] > 0.9).all()


def test_onnx_backend_refuses_files_it_cannot_use(tmp_path: Path) -> None:
    from shoemodel.models.weights import WeightsNotFound

    with pytest.raises(WeightsNotFound, match="rtmw-x.onnx"):
        build_pose(PoseConfig(backend="onnx_wholebody", weights=str(tmp_path / "rtmw-x.onnx")))
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="broken.onnx.*not a loadable ONNX"):
        build_pose(PoseConfig(backend="onnx_wholebody", weights=str(tmp_path / "broken.onnx")))


def test_onnx_backend_refuses_a_model_that_is_not_133_point_wholebody(tmp_path: Path) -> None:
    """A Halpe-26 body-with-feet SimCC file (rtmlib's) has RTMW's signature with 26 keypoints; its points 17-22 are
    head, neck, hips and toes, so it is refused at load, in one line naming the file and the count."""
    halpe = write_tiny_rtmw_onnx(tmp_path / "rtmpose-m_halpe26.onnx", num_keypoints=26)
    with pytest.raises(ValueError, match=r"^curation.pose.weights '.*rtmpose-m_halpe26.onnx' predicts 26 keypoints, not "
                                         r"COCO-WholeBody's 133[^\n]*$"):
        build_pose(PoseConfig(backend="onnx_wholebody", weights=str(halpe)))


@pytest.mark.fixtures
def test_133_to_12_mapping_matches_coco_wholebody_ground_truth(coco_dir: Path, wholebody_gt: dict, gt_shoeleg) -> None:
    """The GT's 133 points (body, foot, face, hands: the order every whole-body model predicts) through our map are
    exactly the GT's points 11-22, and their names are ours."""
    d = json.loads((coco_dir / "test_coco_wholebody.json").read_text())
    body_names = d["categories"][0]["keypoints"]
    assert tuple(body_names[11:17]) + WHOLEBODY_FOOT == KEYPOINT_NAMES
    n = 0
    for anns in wholebody_gt.values():
        for a in anns:
            wb = np.concatenate([np.asarray(a[k], np.float32).reshape(-1, 3)
                                 for k in ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")])
            assert wb.shape == (133, 3)
            assert np.array_equal(wholebody_to_shoeleg(wb), gt_shoeleg(a))
            assert np.array_equal(wholebody_to_shoeleg(wb), wb[11:23])
            k = to_shoeleg(wb, 10**4, 10**4, 0.5)  # the pose stage's path: visible points kept as they are
            vis = wb[11:23, 2] > 0
            assert np.array_equal(k[vis, :2], wb[11:23][vis, :2]) and (k[~vis] == 0).all()
            n += 1
    assert n >= 10


@pytest.mark.fixtures
def test_curate_run_with_a_tiny_rtmw_onnx_end_to_end(tmp_path: Path, coco_dir: Path, yolox_weights: Path) -> None:
    """`curate run PHOTOS --set curation.pose.backend=onnx_wholebody --set curation.pose.weights=tiny_rtmw.onnx`:
    the tiny file has RTMW's names and shapes; its head is biased to a standing person's leg layout, so rows
    flow on through segment and build, and the records say which pose model made them."""
    from typer.testing import CliRunner

    from shoemodel.cli import app
    from shoemodel.store import iter_records

    onnx_path = write_tiny_rtmw_onnx(tmp_path / "tiny_rtmw.onnx", peaks=standing_leg_peaks())
    metrics = tmp_path / "m.json"
    args = ["curate", "run", str(coco_dir), "--out", str(tmp_path / "set"), "--quiet", "--metrics", str(metrics),
            "--set", "curation.detect.backend=yolox_onnx", "--set", f"curation.detect.weights={yolox_weights}",
            "--set", "curation.pose.backend=onnx_wholebody", "--set", f"curation.pose.weights={onnx_path}",
            "--set", "curation.segment.backend=grabcut", "--set", "curation.ingest.part_size=2",
            "--set", "curation.segment.min_quality=0"]  # random pose weights: no quality floor, only the flow is tested
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    s = json.loads(metrics.read_text())
    assert s["pose"]["inputs"] == s["detect"]["kept"] >= 3 and s["pose"]["failed"] == {}
    assert s["pose"]["kept"] >= 3  # every person box gets a standing-leg layout that passes the filters
    recs = list(iter_records(tmp_path / "set"))
    assert len(recs) == s["build"]["kept"] >= 1
    sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    for r in recs:
        pose = json.loads(r["provenance"])["pose"]
        assert pose["backend"] == "onnx_wholebody" and pose["weights"] == "tiny_rtmw.onnx" and pose["model"] == "tiny_rtmw"
        assert pose["weights_sha256"] == sha and pose["provider"] == "CPUExecutionProvider"
        assert pose["library"].startswith("onnxruntime")
