"""Curation test helpers: real photos and weights from the fixtures folder, small configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation.config import CurationConfig


@pytest.fixture(scope="session")
def mediapipe_installed() -> None:
    """Skip when mediapipe==0.10.21 (installed --no-deps by scripts/install.sh) is absent."""
    pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 not installed (pip install --no-deps mediapipe==0.10.21)")


@pytest.fixture(scope="session")
def coco_dir(fixtures_dir: Path) -> Path:
    p = fixtures_dir / "images" / "mmpose" / "coco"
    if not p.is_dir():
        pytest.skip(f"COCO photos not in fixtures ({p})")
    return p


@pytest.fixture(scope="session")
def people_photos(fixtures_dir: Path) -> list[Path]:
    """The fixture photos of people with their feet in view: the COCO walkers, bus.jpg and zidane.jpg (6)."""
    imgs = fixtures_dir / "images"
    files = sorted((imgs / "mmpose" / "coco").glob("*.jpg")) + sorted((imgs / "ultralytics_samples").glob("*.jpg"))
    if len(files) < 6:
        pytest.skip("fixture photos missing")
    return files


@pytest.fixture(scope="session")
def yolox_weights(fixtures_dir: Path) -> Path:
    p = fixtures_dir / "weights" / "yolox_nano" / "yolox_nano.onnx"
    if not p.exists():
        pytest.skip(f"YOLOX-Nano weights not in fixtures ({p})")
    return p


@pytest.fixture(scope="session")
def wholebody_gt(coco_dir: Path) -> dict[str, list[dict]]:
    """file name -> COCO-WholeBody annotations (bbox xywh, body 17 + foot 6 keypoints)."""
    d = json.loads((coco_dir / "test_coco_wholebody.json").read_text())
    names = {i["id"]: i["file_name"] for i in d["images"]}
    out: dict[str, list[dict]] = {}
    for a in d["annotations"]:
        out.setdefault(names[a["image_id"]], []).append(a)
    return out


@pytest.fixture(scope="session")
def gt_shoeleg():
    """Function: COCO-WholeBody annotation -> its 12 shoe-leg keypoints."""
    return _gt_shoeleg


@pytest.fixture(scope="session")
def photo_config():
    """Function: (work_dir, sources, yolox weights or None) -> CurationConfig for real photos."""
    return _photo_config


def _gt_shoeleg(ann: dict) -> np.ndarray:
    """The 12 shoe-leg keypoints (12, 3) of one COCO-WholeBody annotation (visibility 0 = missing)."""
    body = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
    foot = np.asarray(ann["foot_kpts"], np.float32).reshape(6, 3)
    return np.concatenate([body[11:17], foot])


def _photo_config(work_dir: Path, sources: list[str], yolox: Path | None) -> CurationConfig:
    """A config for real photos: YOLOX (or full frame), MediaPipe, the default segmenter without the quality floor
    (these tests are about storage, batching and drawing: every person whose masks pass QC makes a record; the
    floor is measured by benchmarks/curation/quality.py), small parts, no progress bars."""
    cfg = CurationConfig(work_dir=str(work_dir), progress=False)
    cfg.ingest.sources = sources
    cfg.ingest.part_size = 2
    if yolox is not None:
        cfg.detect.backend, cfg.detect.weights = "yolox_onnx", str(yolox)
    else:
        cfg.detect.backend = "full_frame"
    cfg.build.records_per_shard = 2
    cfg.segment.min_quality = 0.0
    return cfg
