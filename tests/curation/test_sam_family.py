"""The SAM family by config: SamModel, SamHQModel and Sam2Model save_pretrained folders load through the one
`load_sam`, embed each image once, and run the segment stage of `curate run ... --set curation.segment.backend=hf_sam`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation.config import SegmentConfig
from shoemodel.curation.prompts import foot_prompts
from shoemodel.curation.segment import build_segmenter
from shoemodel.models.sam import as_predictor, family_of, load_sam
from shoemodel.schemas.keypoints import KEYPOINT_NAMES
from tests.helpers import tiny_models

FAMILIES = {"SamModel": tiny_models.tiny_hf_sam, "SamHQModel": tiny_models.tiny_hf_sam_hq, "Sam2Model": tiny_models.tiny_hf_sam2}


def _save(name: str, folder: Path) -> tuple[Path, object]:
    import torch

    torch.manual_seed(0)
    model = FAMILIES[name]()
    model.save_pretrained(folder / name)
    return folder / name, model


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_loads_by_path_and_predicts_what_the_saved_model_predicts(tmp_path: Path, name: str) -> None:
    folder, model = _save(name, tmp_path)
    sam = load_sam(folder)
    assert sam.source == "transformers" and type(sam.model).__name__ == name and name in sam.version
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)  # not square: masks come back at the image's size
    boxes = np.array([[10, 20, 60, 80], [50, 5, 115, 60]], np.float32)
    points, labels = np.array([[[30, 50], [40, 60]], [[80, 30], [100, 20]]], np.float32), np.array([[1, 1], [1, 0]])
    sam.set_image(image)
    masks, scores = sam.predict(boxes=boxes, points=points, labels=labels)
    assert masks.shape == (2, 90, 120) and masks.dtype == bool and scores.shape == (2,) and np.isfinite(scores).all()
    ref = as_predictor(model)
    ref.set_image(image)
    assert np.array_equal(ref.predict(boxes=boxes, points=points, labels=labels)[0], masks)
    bf16 = load_sam(folder, dtype="bfloat16")  # autocast; the weights stay float32
    bf16.set_image(image)
    assert bf16.predict(boxes=boxes)[0].shape == (2, 90, 120)


def test_one_image_embedding_per_image_for_all_feet(tmp_path: Path) -> None:
    folder, _ = _save("Sam2Model", tmp_path)
    seg = build_segmenter(SegmentConfig(backend="hf_sam", weights=str(folder)))
    calls = []
    embed = seg.sam.model.get_image_embeddings
    seg.sam.model.get_image_embeddings = lambda *a, **k: calls.append(1) or embed(*a, **k)
    k = np.zeros((12, 3), np.float32)
    for name, xy in {"left_ankle": (30, 60), "left_big_toe": (45, 75), "left_heel": (25, 72),
                     "right_ankle": (80, 60), "right_big_toe": (95, 75), "right_heel": (75, 72)}.items():
        k[KEYPOINT_NAMES.index(name)] = (*xy, 0.9)
    masks = seg.segment(np.zeros((90, 120, 3), np.uint8), foot_prompts(k, 120, 90))
    assert len(masks) == 2 and len(calls) == 1


def test_a_folder_of_another_model_is_named(tmp_path: Path) -> None:
    (tmp_path / "vit").mkdir()
    (tmp_path / "vit" / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTModel"]}))
    with pytest.raises(ValueError, match="model_type: 'vit' unknown; known: sam, sam_hq, sam2, sam2_video.*not a SAM family model"):
        load_sam(tmp_path / "vit")
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "config.json").write_text(json.dumps({"architectures": ["Sam2VideoModel"]}))
    assert family_of(tmp_path / "arch") == "sam2_video"


@pytest.mark.fixtures
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_curate_run_with_hf_sam_of_each_family(tmp_path: Path, name: str, coco_dir: Path, yolox_weights: Path) -> None:
    """`curate run PHOTOS --set curation.segment.backend=hf_sam --set curation.segment.weights=DIR`: pose from a tiny
    RTMW-signature ONNX biased to standing legs (so feet reach the segment stage), masks from the tiny SAM."""
    pytest.importorskip("onnx", reason="onnx (test extra) makes the tiny pose ONNX")
    from typer.testing import CliRunner

    from shoemodel.cli import app

    folder, _ = _save(name, tmp_path)
    pose = tiny_models.write_tiny_rtmw_onnx(tmp_path / "tiny_rtmw.onnx", peaks=tiny_models.standing_leg_peaks())
    metrics = tmp_path / "m.json"
    res = CliRunner().invoke(app, [
        "curate", "run", str(coco_dir), "--out", str(tmp_path / "set"), "--quiet", "--metrics", str(metrics),
        "--set", "curation.detect.backend=yolox_onnx", "--set", f"curation.detect.weights={yolox_weights}",
        "--set", "curation.pose.backend=onnx_wholebody", "--set", f"curation.pose.weights={pose}",
        "--set", "curation.segment.backend=hf_sam", "--set", f"curation.segment.weights={folder}"])
    assert res.exit_code == 0, res.output
    s = json.loads(metrics.read_text())
    assert s["segment"]["inputs"] == s["pose"]["kept"] >= 3 and s["segment"]["failed"] == {}
    assert s["segment"]["kept"] + sum(s["segment"]["dropped"].values()) == s["segment"]["inputs"]
    extra = json.loads((tmp_path / "set.work" / "segment" / "summary.json").read_text())["extra"]
    assert extra["backend"] == "hf_sam" and extra["model"].startswith(name) and len(extra["weights_sha256"]) == 64
