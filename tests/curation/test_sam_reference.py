"""Differential test: the segment stage's SAM masks equal segment-anything's own `SamPredictor` run on each foot's
prompt alone, for a SAM saved in the published release layout (a bare state dict of the vit_b/l/h key names and
decoder sizes; here a 2-block encoder so the test stays fast, built by segment-anything's own `_build_sam`).

The feet of a photo have different numbers of points (a toe not seen); padding the shorter prompt with SAM's
not-a-point token changes its mask, so the stage runs one decoder call per point count. The test also shows the
padded path would have failed it, so it can fail. Measured on bus.jpg (IoU with SamPredictor, shorter foot): the
stage 1.0 for both sizes; padded 0.979 with this small encoder, 0.910 with the full vit_b (the slow test).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation.prompts import FootPrompt, foot_prompts
from shoemodel.schemas.keypoints import KEYPOINT_NAMES
from shoemodel.schemas.records import decode_image

ENCODER = {"encoder_embed_dim": 64, "encoder_depth": 2, "encoder_num_heads": 2, "encoder_global_attn_indexes": [1]}


def _build(checkpoint: Path | None = None, size: str | None = None):
    """segment-anything's own builder: the published prompt encoder and decoder, the given (or a small) encoder."""
    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    build = importlib.import_module("segment_anything.build_sam")
    if size:
        return build.sam_model_registry[size](checkpoint=None if checkpoint is None else str(checkpoint))
    return build._build_sam(**ENCODER, checkpoint=None if checkpoint is None else str(checkpoint))


def _save_random_sam(folder: Path, size: str | None = None) -> Path:
    import torch

    torch.manual_seed(0)
    model = _build(size=size)
    with torch.no_grad():  # default init leaves zero biases / position tables: give every tensor some signal
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.randn_like(t) * 0.02)
    path = folder / "sam_published_layout.pth"
    torch.save(model.state_dict(), path)  # the release layout: a bare state dict
    return path


def _feet(image: np.ndarray, missing: str) -> list[FootPrompt]:
    """Two standing feet; one foot without `missing` (e.g. its small toe unseen), so the prompts differ in length."""
    h, w = image.shape[:2]
    k = np.zeros((12, 3), np.float32)
    parts = {"knee": (0, 0.72), "ankle": (0, 0.86), "big_toe": (0.05, 0.93), "small_toe": (0.03, 0.94), "heel": (-0.02, 0.91)}
    for side, x in (("left", 0.3), ("right", 0.58)):
        for name, (dx, dy) in parts.items():
            if f"{side}_{name}" != missing:
                k[KEYPOINT_NAMES.index(f"{side}_{name}")] = ((x + dx) * w, dy * h, 0.9)
    return foot_prompts(k, w, h)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _reference(path: Path, image: np.ndarray, prompts: list[FootPrompt], size: str | None = None) -> list[np.ndarray]:
    """segment-anything's SamPredictor on each prompt on its own: best of the multimask outputs by predicted IoU."""
    from segment_anything import SamPredictor

    ref = SamPredictor(_build(path, size))
    ref.set_image(image)
    out = []
    for p in prompts:
        masks, scores, _ = ref.predict(point_coords=p.points, point_labels=p.labels, box=p.box, multimask_output=True)
        out.append(masks[int(np.argmax(scores))])
    return out


def _padded(seg, prompts: list[FootPrompt]) -> list[np.ndarray]:
    """What the stage did before, on the image it embedded last: the shorter prompt padded with not-a-point (-1)
    tokens and all feet in one decoder call."""
    from shoemodel.curation import sam_batch

    n = max(len(p.points) for p in prompts)
    pts = np.stack([np.pad(p.points, ((0, n - len(p.points)), (0, 0))) for p in prompts])
    labs = np.stack([np.pad(p.labels, (0, n - len(p.labels)), constant_values=-1) for p in prompts])
    return list(sam_batch.predict_best(seg.sam, np.stack([p.box for p in prompts]), pts, labs))


def _compare(path: Path, photo: Path, size: str | None = None) -> tuple[list[float], list[float]]:
    """IoU with SamPredictor's per-prompt masks of each foot's mask: the stage's (stacked encoder, decoder per point
    count), and the padded one's."""
    from shoemodel.curation.segment_sam import SamSegmenter

    seg = SamSegmenter.from_weights("sam", path, device="cpu")
    image = decode_image(photo.read_bytes(), "RGB")
    prompts = _feet(image, "right_small_toe")
    assert len(prompts) == 2 and len(prompts[0].points) == 5 and len(prompts[1].points) == 4
    got = seg.segment_batch([image], [prompts], seg.prepare([image]))[0]
    want = _reference(path, image, prompts, size)
    assert all(0.001 < w.mean() < 0.999 for w in want), "a blank or full mask would make the comparison empty"
    return [_iou(a, b) for a, b in zip(got, want)], [_iou(a, b) for a, b in zip(_padded(seg, prompts), want)]


def _bus(fixtures_dir: Path) -> Path:
    bus = fixtures_dir / "images" / "ultralytics_samples" / "bus.jpg"
    if not bus.is_file():
        pytest.skip(f"fixture photo missing ({bus})")
    return bus


@pytest.mark.fixtures
def test_feet_with_different_point_counts_get_sams_own_per_prompt_masks(tmp_path: Path, fixtures_dir: Path) -> None:
    stage, padded = _compare(_save_random_sam(tmp_path), _bus(fixtures_dir))
    assert stage == [1.0, 1.0], stage  # identical masks for both feet
    assert padded[1] < 0.999, padded  # padding changed the shorter foot's mask: the test tells the two apart


@pytest.mark.slow
@pytest.mark.fixtures
def test_vit_b_with_random_weights_matches_sam_predictor(tmp_path: Path, fixtures_dir: Path) -> None:
    """The full published vit_b size (random weights, a ~375 MB state dict written to tmp) on bus.jpg."""
    stage, padded = _compare(_save_random_sam(tmp_path, "vit_b"), _bus(fixtures_dir), "vit_b")
    assert stage == [1.0, 1.0], stage
    assert padded[1] < 0.999, padded
