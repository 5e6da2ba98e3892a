"""Detect: YOLOX ONNX finds the COCO people; ultralytics runs (tiny random and real pose weights); the filter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation.boxes import iou
from shoemodel.curation.config import DetectConfig
from shoemodel.curation.detect import (
    FullFrameDetector,
    build_detector,
    detect_rows,
    feet_occlusion,
    resolve_backend,
    select_persons,
)
from shoemodel.models.weights import WeightsNotFound
from shoemodel.schemas.records import decode_image


def _rgb(path: Path) -> np.ndarray:
    return decode_image(path.read_bytes(), "RGB")


@pytest.mark.fixtures
def test_yolox_finds_the_people_in_coco_photos(coco_dir: Path, yolox_weights: Path, wholebody_gt: dict) -> None:
    det = build_detector(DetectConfig(backend="yolox_onnx", weights=str(yolox_weights), score_threshold=0.3))
    found = total = 0
    for name, anns in wholebody_gt.items():
        boxes, kp = det.detect([_rgb(coco_dir / name)])[0]
        assert kp is None and boxes.shape[1] == 5
        for a in anns:
            x, y, w, h = a["bbox"]
            if w * h < 5000:  # tiny background people: Nano is not expected to find them all
                continue
            total += 1
            found += bool(len(boxes)) and float(iou(np.array([[x, y, x + w, y + h]]), boxes[:, :4]).max()) >= 0.5
    assert total >= 6
    assert found / total >= 0.8, f"YOLOX found {found}/{total} annotated people"


@pytest.mark.fixtures
def test_yolox_finds_no_person_in_a_shoe_product_photo(fixtures_dir: Path, yolox_weights: Path) -> None:
    det = build_detector(DetectConfig(backend="yolox_onnx", weights=str(yolox_weights)))
    shoes = sorted((fixtures_dir / "images" / "shoe_products").glob("*.jpg"))[:3]
    rows = [{"source_uri": str(p), "content_hash": "h", "image": p.read_bytes()} for p in shoes]
    out = detect_rows(rows, det, DetectConfig(batch_size=2))
    assert [r["status"] for r in out] == ["dropped"] * len(shoes)
    assert {r["reason"] for r in out} == {"no person"}


@pytest.mark.fixtures
@pytest.mark.parametrize("arch", ["yolo11n.yaml", pytest.param("rtdetr-l.yaml", marks=pytest.mark.slow)])
def test_ultralytics_random_weights_run_on_photos(fixtures_dir: Path, arch: str) -> None:
    """The real YOLO11n / RT-DETR-l architectures (random weights, 64 px input) through the stage code."""
    det = build_detector(DetectConfig(backend="ultralytics", weights=arch, input_size=64, score_threshold=0.0))
    assert det.version.startswith(arch)
    import PIL.Image

    assert PIL.Image.open.__module__ == "PIL.Image"  # ultralytics' process-wide Image.open patch is undone
    bus = fixtures_dir / "images" / "ultralytics_samples" / "bus.jpg"
    rows = [{"source_uri": str(bus), "content_hash": "h", "image": bus.read_bytes()}] * 2
    out = detect_rows(rows, det, DetectConfig(score_threshold=0.0, batch_size=2))
    assert len(out) == 2 and all(r["status"] in ("kept", "dropped") for r in out)
    assert all(r["num_persons"] is not None for r in out)


@pytest.mark.fixtures
def test_ultralytics_real_pose_weights_find_bus_people_with_ankles(fixtures_dir: Path) -> None:
    w = fixtures_dir / "weights" / "yolo11n_pose" / "yolo11n-pose.pt"
    if not w.exists():
        pytest.skip(f"{w} absent")
    det = build_detector(DetectConfig(backend="ultralytics", weights=str(w), input_size=640))
    boxes, kp = det.detect([_rgb(fixtures_dir / "images" / "ultralytics_samples" / "bus.jpg")])[0]
    assert len(boxes) >= 3 and kp is not None and kp.shape[1:] == (17, 3)
    keep, reason = select_persons(boxes, kp, 810, 1080, DetectConfig(max_persons=4))
    assert reason is None and len(keep) >= 3  # bus.jpg: full legs and shoes in view


def test_a_broken_image_is_a_failed_row_and_the_rest_go_on(fixtures_dir: Path) -> None:
    bus = fixtures_dir / "images" / "ultralytics_samples" / "bus.jpg"
    rows = [{"source_uri": "good", "content_hash": "a", "image": bus.read_bytes()},
            {"source_uri": "bad", "content_hash": "b", "image": bus.read_bytes()[:200]},
            {"source_uri": "good2", "content_hash": "c", "image": bus.read_bytes()}]
    out = detect_rows(rows, FullFrameDetector(), DetectConfig(batch_size=3))
    got = {r["source_uri"]: (r["status"], (r["reason"] or "").split(":")[0]) for r in out}
    assert got == {"good": ("kept", ""), "bad": ("failed", "decode"), "good2": ("kept", "")}


def test_select_persons_reasons() -> None:
    cfg = DetectConfig(score_threshold=0.5, min_box_height_frac=0.3, bottom_margin_frac=0.02, max_persons=2)
    det = np.array([[0, 0, 10, 90, 0.9], [20, 10, 60, 60, 0.8], [70, 0, 100, 99.5, 0.95]], np.float32)
    keep, reason = select_persons(det, None, 100, 100, cfg)
    assert reason is None and keep[:, 4].tolist() == pytest.approx([0.8, 0.9])  # the cut-off person (bottom 99.5) goes
    assert select_persons(det[:0], None, 100, 100, cfg)[1] == "no person"
    assert select_persons(det[:, :] * [1, 1, 1, 1, 0.1], None, 100, 100, cfg)[1] == "no person"
    assert select_persons(np.array([[0, 0, 10, 20, 0.9]], np.float32), None, 100, 100, cfg)[1] == "person too small"
    assert select_persons(det[2:], None, 100, 100, cfg)[1] == "lower legs not in the box"
    kp = np.zeros((1, 17, 3), np.float32)
    assert select_persons(det[2:], kp, 100, 100, cfg)[1] == "lower legs not in the box"
    kp[0, 15, 2] = 0.9  # a pose model that sees an ankle overrides the box-edge rule
    assert select_persons(det[2:], kp, 100, 100, cfg)[1] is None


def test_feet_hidden_by_a_person_in_front_are_dropped_and_the_front_one_kept() -> None:
    cfg = DetectConfig(score_threshold=0.5, min_box_height_frac=0.3, bottom_margin_frac=0.02, max_persons=8)
    behind = [30, 10, 60, 70, 0.9]  # feet zone y 61-70, x 30-60
    front = [20, 20, 70, 95, 0.9]  # lower bottom: nearer the camera, covers the zone
    aside = [75, 10, 95, 70, 0.9]  # same depth, beside them: not hidden
    det = np.array([behind, front, aside], np.float32)
    assert feet_occlusion(det).round(2).tolist() == [1.0, 0.0, 0.0]
    keep, reason = select_persons(det, None, 100, 100, cfg)
    assert reason is None and sorted(keep[:, 0].tolist()) == [20, 75]
    assert select_persons(det[:2], None, 100, 100, DetectConfig(max_feet_occlusion=1.0, min_box_height_frac=0.3))[0].shape[0] == 2
    only_hidden = np.array([behind, [20, 20, 70, 99.5, 0.9]], np.float32)  # the one in front is cut off by the frame
    assert select_persons(only_hidden, None, 100, 100, cfg)[1] == "feet hidden by another person"


def test_auto_without_weights_is_full_frame_and_missing_weights_are_named(tmp_path: Path) -> None:
    assert resolve_backend(DetectConfig(backend="auto", weights=str(tmp_path / "none.onnx"))) == "full_frame"
    assert isinstance(build_detector(DetectConfig(backend="auto")), FullFrameDetector)
    with pytest.raises(WeightsNotFound, match="none.onnx"):
        build_detector(DetectConfig(backend="yolox_onnx", weights=str(tmp_path / "none.onnx")))
    with pytest.raises(WeightsNotFound, match="nope.pt"):
        build_detector(DetectConfig(backend="ultralytics", weights=str(tmp_path / "nope.pt")))
