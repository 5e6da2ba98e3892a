"""Segment: SAM (segment-anything and transformers, tiny random) on real photos, GrabCut vs Fashionpedia shoes, QC."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation.config import SegmentConfig
from shoemodel.curation.mask_qc import check_mask
from shoemodel.curation.prompts import FootPrompt, foot_prompts
from shoemodel.curation.segment import build_segmenter, segment_image
from shoemodel.models.weights import WeightsNotFound
from shoemodel.schemas.keypoints import KEYPOINT_NAMES
from shoemodel.schemas.records import decode_image


def _k(**points: tuple[float, float]) -> np.ndarray:
    k = np.zeros((12, 3), np.float32)
    for name, (x, y) in points.items():
        k[KEYPOINT_NAMES.index(name)] = (x, y, 0.9)
    return k


BUS_FEET = _k(left_knee=(200, 780), left_ankle=(195, 854), left_big_toe=(233, 874), left_heel=(185, 878),
              right_knee=(80, 780), right_ankle=(72, 858), right_big_toe=(105, 890), right_heel=(57, 873))


def test_foot_prompts_box_points_and_calf_negative() -> None:
    prompts = foot_prompts(BUS_FEET, 810, 1080)
    assert [p.side for p in prompts] == ["left", "right"]
    left = prompts[0]
    assert left.box[0] < 185 and left.box[2] > 233 and left.box[1] < 854 and left.box[3] > 878
    assert left.labels.tolist() == [1, 1, 1, 0]  # big toe, heel, mid-foot; calf negative
    assert left.points[-1, 1] < 854  # the negative lies above the ankle, on the calf
    only_ankle = _k(left_ankle=(10, 10))
    assert foot_prompts(only_ankle, 100, 100) == []


@pytest.mark.fixtures
@pytest.mark.parametrize("backend", ["sam", "hf_sam"])
def test_tiny_random_sam_runs_batched_prompts_on_a_real_photo(fixtures_dir: Path, backend: str) -> None:
    import torch

    from shoemodel.curation.segment_sam import SamSegmenter
    from tests.helpers.tiny_models import tiny_hf_sam, tiny_sam

    torch.manual_seed(0)
    seg = SamSegmenter(tiny_sam() if backend == "sam" else tiny_hf_sam())
    assert seg.name == backend
    image = decode_image((fixtures_dir / "images" / "ultralytics_samples" / "bus.jpg").read_bytes(), "RGB")
    prompts = foot_prompts(BUS_FEET, image.shape[1], image.shape[0])
    masks = seg.segment(image, prompts)
    assert len(masks) == 2 and all(m.shape == image.shape[:2] and m.dtype == bool for m in masks)
    mask, reason, qc = segment_image(image, BUS_FEET, seg, SegmentConfig(min_feet=1))
    assert (mask is None) == (reason is not None) and [q["side"] for q in qc] == ["left", "right"]


def test_missing_sam_weights_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound, match="sam_vit_b_01ec64.pth"):
        build_segmenter(SegmentConfig(backend="sam", weights=str(tmp_path / "sam_vit_b_01ec64.pth")))
    with pytest.raises(WeightsNotFound, match="sam-vit-base"):
        build_segmenter(SegmentConfig(backend="hf_sam", weights=str(tmp_path / "sam-vit-base")))


def _polygon_mask(poly: list[float], shape: tuple[int, int]) -> np.ndarray:
    import cv2

    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.asarray(poly, np.float32).reshape(-1, 2).round().astype(np.int32)], 1)
    return m.astype(bool)


@pytest.mark.fixtures
def test_grabcut_fallback_recovers_fashionpedia_shoe_masks(fixtures_dir: Path) -> None:
    """Foot points placed on each annotated shoe (heel, toe, ankle from the polygon's extremes) -> mask IoU with the polygon."""
    d = fixtures_dir / "images" / "fashionpedia"
    ann = json.loads((d / "sample.json").read_text())
    shoe_id = next(c["id"] for c in ann["categories"] if c["name"] == "shoe")
    image = decode_image((d / "000000009813.jpg").read_bytes(), "RGB")
    seg = build_segmenter(SegmentConfig(backend="grabcut"))
    ious = []
    for a in (a for a in ann["annotations"] if a["image_id"] == 9813 and a["category_id"] == shoe_id):
        gt = _polygon_mask(a["segmentation"][0], image.shape[:2])
        ys, xs = np.nonzero(gt)
        low = ys >= np.percentile(ys, 60)  # heel and toe lie on the sole: the lowest 40% of the shoe
        heel = (xs[low].min() + 2, ys[low][xs[low].argmin()])
        toe = (xs[low].max() - 2, ys[low][xs[low].argmax()])
        k = _k(left_heel=heel, left_big_toe=toe, left_ankle=(xs[ys.argmin()], ys.min()))
        prompt = foot_prompts(k, image.shape[1], image.shape[0], box_padding=0.6, negative_on_calf=False)
        (m,) = seg.segment(image, prompt)
        ious.append((m & gt).sum() / (m | gt).sum())
    assert len(ious) == 2
    assert min(ious) >= 0.35, ious  # a labelled fallback: rough, but on the shoe (measured 0.76, 0.42)


def _foot_prompt() -> FootPrompt:
    """A right-facing foot on a 200 x 200 canvas: ankle (60, 120), heel (50, 150), toe (110, 152), knee above;
    the other foot 80 px to the right; a 180 px tall person."""
    k = _k(left_knee=(62, 40), left_ankle=(60, 120), left_heel=(50, 150), left_big_toe=(110, 152),
           right_knee=(142, 40), right_ankle=(140, 120), right_heel=(130, 150), right_big_toe=(190, 152))
    (p, _) = foot_prompts(k, 200, 200, box_padding=0.6, negative_on_calf=True, person_box=np.array([20, 10, 190, 190, 1.0]))
    return p


def _shoe(p: FootPrompt) -> np.ndarray:
    """A hand-made shoe: the sole band from heel to toe, up to just above the ankle at the back."""
    import cv2

    m = np.zeros((200, 200), np.uint8)
    cv2.fillPoly(m, [np.array([[48, 155], [114, 156], [112, 140], [80, 132], [66, 116], [52, 118]], np.int32)], 1)
    return m.astype(bool)


def test_grabcut_finds_the_shoe_below_foot_points_on_the_leg() -> None:
    """Foot points on the shin of a pink leg whose dark shoe lies below them (BlazePose on a pump): the shoe is
    the bottom of the confident silhouette, so the mask covers the shoe, not the skin; points on the shoe
    itself keep the sole-line seeding (the silhouette's bottom is at the points)."""
    import cv2

    from shoemodel.curation.segment_grabcut import GrabCutSegmenter

    image = np.full((400, 200, 3), (200, 190, 170), np.uint8)  # floor
    cv2.rectangle(image, (75, 0), (115, 150), (230, 170, 160), -1)  # leg and instep (skin)
    cv2.rectangle(image, (70, 140), (125, 170), (20, 20, 25), -1)  # shoe
    shoe = np.zeros((400, 200), bool)
    shoe[140:171, 70:126] = True
    prob = np.zeros((400, 200), np.float32)
    prob[0:140, 75:116] = 1.0
    prob[140:171, 70:126] = 1.0
    prob[171:185, 75:120] = 0.6  # the shadow under the shoe: person to the model, but not confidently
    seg = GrabCutSegmenter(person_mask="none")
    box = np.array([50, 0, 150, 390, 1], np.float32)  # foot length >= 0.07 x 390 = 27 px

    def iou(k: np.ndarray, seg: GrabCutSegmenter = seg) -> float:
        (p,) = foot_prompts(k, 200, 400, 0.6, True, box)
        m = seg.segment_foot(image, p, prob)
        return float((m & shoe).sum() / (m | shoe).sum())

    on_shin = _k(left_knee=(90, 30), left_ankle=(88, 105), left_heel=(80, 118), left_big_toe=(115, 132))
    on_shoe = _k(left_knee=(100, 60), left_ankle=(100, 135), left_heel=(75, 165), left_big_toe=(122, 166))
    assert iou(on_shin) >= 0.6  # measured 0.96
    assert iou(on_shoe) >= 0.6  # measured 0.97
    assert iou(on_shin, GrabCutSegmenter(person_mask="none", silhouette_reach=0.0)) < 0.3  # seeds on the skin: measured 0.0


def test_mask_qc_each_rule_on_hand_made_masks() -> None:
    cfg = SegmentConfig()
    p = _foot_prompt()
    good = _shoe(p)
    m, reason, stats = check_mask(good, p, cfg)
    assert reason is None, stats
    assert 0.3 < stats["foot_area_ratio"] < 3 and stats["box_fill"] < 0.85 and stats["above_ankle_frac"] < 0.2
    assert stats["other_foot_frac"] < 0.05
    assert check_mask(np.zeros((200, 200), bool), p, cfg)[1] == "empty mask"
    speck = good.copy()
    speck[0, 0] = True  # a one-pixel speck beside a good mask is cleaned away, not counted
    m, reason, stats = check_mask(speck, p, cfg)
    assert reason is None and not m[0, 0] and stats["components"] == 1
    box = np.zeros((200, 200), bool)  # GrabCut's failure: the whole prompt box
    x1, y1, x2, y2 = p.box.round().astype(int)
    box[y1:y2, x1:x2] = True
    reason, stats = check_mask(box, p, cfg)[1:]
    assert reason.startswith("mask fills its prompt box") and stats["box_fill"] > 0.85
    tiny = np.zeros((200, 200), bool)  # 3 specks of 13 pixels: far below a foot of this person
    for y, x in ((150, 60), (152, 80), (150, 100)):
        tiny[y:y + 3, x:x + 4] = True
    tiny[151, 64:80] = True  # joined, so it is one small mask rather than three components
    reason, stats = check_mask(tiny, p, cfg)[1:]
    assert reason.startswith("speck") and stats["foot_area_ratio"] < 0.1
    leg = np.zeros((200, 200), bool)  # a calf / trouser leg above the ankle
    leg[60:125, 50:72] = True
    reason, stats = check_mask(leg, p, cfg)[1:]
    assert reason.startswith("mask mostly above the ankle") and stats["above_ankle_frac"] > 0.5
    both = good | np.roll(good, 80, axis=1) | np.roll(good, 81, axis=1)  # this shoe and (more of) the other one
    reason, stats = check_mask(both, p, cfg)[1:]
    assert reason.startswith("mask covers the other foot") and stats["other_foot_frac"] > 0.4
    line = np.zeros((200, 200), bool)  # GrabCut keeping only its seed: the heel-toe line
    line[150:154, 50:110] = True
    reason, stats = check_mask(line, p, cfg)[1:]
    assert reason.startswith("thin") and stats["foot_area_ratio"] > 0.1
    three = np.zeros((200, 200), bool)
    for x in (48, 72, 96):
        three[138:156, x:x + 14] = True
    assert check_mask(three, p, SegmentConfig(max_components=2, min_thickness_ratio=0))[1] == "mask has 3 components"


def test_mask_qc_on_real_photo_masks(fixtures_dir: Path, mediapipe_installed) -> None:
    """On bus.jpg's real foot points: the GrabCut mask passes; the prompt box and a speck on the shoe do not."""
    image = decode_image((fixtures_dir / "images" / "ultralytics_samples" / "bus.jpg").read_bytes(), "RGB")
    person = np.array([40, 400, 250, 905, 0.9], np.float32)
    prompts = foot_prompts(BUS_FEET, image.shape[1], image.shape[0], 0.6, True, person)
    cfg = SegmentConfig()
    seg = build_segmenter(cfg)
    masks = seg.segment(image, prompts)
    verdicts = [check_mask(m, p, cfg) for m, p in zip(masks, prompts)]
    assert any(v[1] is None for v in verdicts), [v[2] for v in verdicts]
    for m, p in zip(masks, prompts):
        box = np.zeros(m.shape, bool)
        x1, y1, x2, y2 = p.box.round().astype(int)
        box[y1:y2, x1:x2] = True
        assert check_mask(box, p, cfg)[1].startswith("mask fills its prompt box")
        ys, xs = np.nonzero(m) if m.any() else (np.array([y1 + 5]), np.array([x1 + 5]))
        speck = np.zeros(m.shape, bool)
        speck[ys[0]:ys[0] + 3, xs[0]:xs[0] + 3] = True
        assert check_mask(speck, p, cfg)[1].startswith("speck")
        calf = np.zeros(m.shape, bool)  # the real calf: from the ankle up towards the knee, a foot wide
        import cv2

        ankle, knee = p.parts["ankle"], p.parts["knee"]
        cv2.line(calf.view(np.uint8), tuple(int(v) for v in ankle), tuple(int(v) for v in (ankle + knee) / 2), 1,
                 max(3, int(0.3 * p.foot_length)))
        assert check_mask(calf, p, cfg)[1].startswith("mask mostly above the ankle")


@pytest.mark.fixtures
def test_hf_sam_loads_a_checkpoint_folder_by_path_and_runs_the_stage(fixtures_dir: Path, tmp_path: Path) -> None:
    """save_pretrained -> curation.segment.weights: the same by-path loading a real SAM folder goes through."""
    import torch

    from shoemodel.curation.segment import segment_rows
    from tests.helpers.tiny_models import tiny_hf_sam

    torch.manual_seed(0)
    tiny_hf_sam().save_pretrained(tmp_path / "sam-tiny")
    cfg = SegmentConfig(backend="hf_sam", weights=str(tmp_path / "sam-tiny"), max_box_fill=1e9, min_foot_area_ratio=0.0,
                        max_components=10**6, max_leg_overlap=1.0, max_other_foot_frac=1.0, max_above_ankle_frac=1.0,
                        min_quality=0.0)  # random weights: no quality floor, QC alone decides
    seg = build_segmenter(cfg)
    assert seg.name == "hf_sam" and "sam-tiny" in seg.version
    bus = fixtures_dir / "images" / "ultralytics_samples" / "bus.jpg"
    rows = [{"source_uri": str(bus), "content_hash": "h", "image": bus.read_bytes(), "keypoints": BUS_FEET.reshape(-1).tolist()}]
    (row,) = segment_rows(rows, seg, cfg)
    (person,) = json.loads(row["mask_qc"])  # one person: its feet
    assert [q["side"] for q in person["feet"]] == ["left", "right"]
    assert row["status"] == ("kept" if any(q["ok"] for q in person["feet"]) else "dropped")


def _save_tiny_sams(folder: Path) -> dict[str, tuple[Path, object]]:
    """tiny_sam as a segment-anything release .pth (a bare state dict) and tiny_hf_sam as a save_pretrained folder."""
    import torch

    from tests.helpers.tiny_models import tiny_hf_sam, tiny_sam

    torch.manual_seed(0)
    sa, hf = tiny_sam(), tiny_hf_sam()
    torch.save(sa.state_dict(), folder / "sam_tiny.pth")
    hf.save_pretrained(folder / "sam-tiny-hf")
    return {"segment-anything": (folder / "sam_tiny.pth", sa), "transformers": (folder / "sam-tiny-hf", hf)}


def test_sam_loader_reads_a_pth_and_a_transformers_folder_through_one_function(tmp_path: Path) -> None:
    """Both published layouts load by path through load_sam, give (H, W) masks for box + point prompts, and
    predict exactly what the saved model predicts (so the .pth's size, read off its state dict, is right)."""
    from shoemodel.models.sam import as_predictor, load_sam

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)  # not square: masks come back at the image's size
    boxes = np.array([[10, 20, 60, 80], [50, 5, 115, 60]], np.float32)
    points, labels = np.array([[[30, 50], [40, 60]], [[80, 30], [100, 20]]], np.float32), np.array([[1, 1], [1, 0]])
    for source, (path, model) in _save_tiny_sams(tmp_path).items():
        sam = load_sam(path)
        assert sam.source == source and path.name in sam.version
        sam.set_image(image)
        masks, scores = sam.predict(boxes=boxes)
        assert masks.shape == (2, 90, 120) and masks.dtype == bool and scores.shape == (2,)
        both, _ = sam.predict(boxes=boxes, points=points, labels=labels)
        assert both.shape == (2, 90, 120)
        ref = as_predictor(model)
        ref.set_image(image)
        assert np.array_equal(ref.predict(boxes=boxes)[0], masks)


def test_sam_sizes_from_model_type_file_name_or_state_dict(tmp_path: Path) -> None:
    import torch

    from shoemodel.models.sam import MODEL_TYPES, build_sam, load_sam, model_type_from_name, shape_from_state_dict

    assert model_type_from_name("models/sam/sam_vit_b_01ec64.pth") == "vit_b"
    assert model_type_from_name("sam_vit_h_4b8939.pth") == "vit_h" and model_type_from_name("sam-tiny.pth") is None
    for shape in MODEL_TYPES.values():  # the published sizes survive a round trip (on the meta device: no memory)
        with torch.device("meta"):
            assert shape_from_state_dict(build_sam(shape).state_dict()) == shape
    (pth, _), _ = _save_tiny_sams(tmp_path).values()
    with pytest.raises(ValueError, match="non-standard size, not model_type vit_b"):
        load_sam(pth, "vit_b")


def test_segment_stage_loads_sam_by_path_and_checks_the_backend(tmp_path: Path) -> None:
    from shoemodel.curation.segment_sam import SamSegmenter

    (pth, _), (folder, _) = _save_tiny_sams(tmp_path).values()
    seg = build_segmenter(SegmentConfig(backend="sam", weights=str(pth), model_type=""))
    assert isinstance(seg, SamSegmenter) and seg.name == "sam" and "sam_tiny.pth" in seg.version
    image = np.zeros((60, 80, 3), np.uint8)
    k = _k(left_ankle=(30, 30), left_big_toe=(45, 40), left_heel=(25, 42))
    (mask,) = seg.segment(image, foot_prompts(k, 80, 60))
    assert mask.shape == (60, 80)
    with pytest.raises(ValueError, match="backend: hf_sam"):
        build_segmenter(SegmentConfig(backend="sam", weights=str(folder)))
    with pytest.raises(ValueError, match="backend: sam"):
        build_segmenter(SegmentConfig(backend="hf_sam", weights=str(pth)))
