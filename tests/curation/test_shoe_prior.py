"""The shoe prior: the committed CCP split, the shipped weights on a CCP test photo, the backend, the quality score
and its ranking, heel/toe refinement, and SAM prompts from the prior (random-weight SAM)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation.config import SegmentConfig
from shoemodel.curation.prompts import foot_prompts
from shoemodel.schemas.keypoints import KEYPOINT_NAMES

REPO = Path(__file__).resolve().parents[2]
SPLIT = REPO / "benchmarks" / "curation" / "ccp_split.json"


def _ccp(fixtures_dir: Path) -> Path:
    root = fixtures_dir / "images" / "ccp"
    if not (root / "photos").is_dir():
        pytest.skip(f"CCP fixture photos not found at {root}")
    return root


def gt_keypoints(gt: np.ndarray) -> np.ndarray:
    """Foot points read off the footwear labels (per connected shoe: heel/toe at its bottom corners, ankle on top)
    and hips/knees above them: what a good pose gives, without a pose model."""
    import cv2

    k = np.zeros((12, 3), np.float32)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(gt.astype(np.uint8))
    big = sorted(range(1, n), key=lambda c: -stats[c, cv2.CC_STAT_AREA])[:2]
    big = sorted(big, key=lambda c: stats[c, cv2.CC_STAT_LEFT])
    for side, c in zip(("right", "left") if len(big) == 2 else ("left",), big):  # the person's right is image left
        ys, xs = np.nonzero(lab == c)
        low = ys >= np.percentile(ys, 60)
        k[KEYPOINT_NAMES.index(f"{side}_heel")] = (xs[low].min() + 2, ys[low][xs[low].argmin()], 0.9)
        k[KEYPOINT_NAMES.index(f"{side}_big_toe")] = (xs[low].max() - 2, ys[low][xs[low].argmax()], 0.9)
        k[KEYPOINT_NAMES.index(f"{side}_ankle")] = (xs[ys.argmin()], ys.min(), 0.9)
        top = float(ys.min())
        k[KEYPOINT_NAMES.index(f"{side}_knee")] = (xs.mean(), top - 4 * (ys.max() - top + 1), 0.9)
    return k


def person_box(labels: np.ndarray) -> np.ndarray:
    """The labelled person's box (every labelled pixel; CCP labels only the main person)."""
    ys, xs = np.nonzero(labels)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max(), 1.0], np.float32)


def labelled_feet(root: Path, photo_id: str, seg) -> tuple:
    """(image, footwear, keypoints, prompts, masks) of a CCP photo: foot points read off its labels (no pose model),
    masks from `seg`."""
    from shoemodel.training.shoe_prior import ccp

    image, labels = ccp.read_photo(root, photo_id)
    gt = ccp.footwear_mask(labels)
    k = gt_keypoints(gt)
    prompts = foot_prompts(k, gt.shape[1], gt.shape[0], person_box=person_box(labels))
    return image, gt, k, prompts, seg.segment(image, prompts)


def test_split_is_the_committed_one_and_disjoint(fixtures_dir: Path) -> None:
    from shoemodel.training.shoe_prior import ccp

    root = _ccp(fixtures_dir)
    data = json.loads(SPLIT.read_text())
    assert ccp.make_split(ccp.photo_ids(root)) == data["splits"]
    sets = [set(v) for v in data["splits"].values()]
    assert sum(map(len, sets)) == len(set().union(*sets)) == 700
    assert data["hashes"] == {k: ccp.ids_hash(v) for k, v in data["splits"].items()}


def test_shipped_weights_segment_a_ccp_test_photo(fixtures_dir: Path) -> None:
    """The weights in the package (no training, no download) find the shoes of a held-out photo: IoU >= 0.6."""
    from shoemodel.models.shoe_prior import ShoePrior
    from shoemodel.models.shoe_prior.predictor import SHIPPED_CHECK, SHIPPED_SEGMENTERS
    from shoemodel.training.shoe_prior import ccp

    root = _ccp(fixtures_dir)
    prior = ShoePrior.load()

    for folder in (*SHIPPED_SEGMENTERS, SHIPPED_CHECK):  # every shipped prior: its ids as named, never a test photo
        card = json.loads((folder / "card.json").read_text())
        assert card["data"]["ids_sha256"] == ccp.ids_hash(card["data"]["ids"])
        assert set(card["data"]["ids"]) <= set(ccp.load_split(SPLIT, card["data"]["split"]))
        assert not set(card["data"]["ids"]) & set(ccp.load_split(SPLIT, "test"))  # never trained on test
    ious = []
    for pid in ccp.load_split(SPLIT, "test")[:3]:
        image, labels = ccp.read_photo(root, pid)
        gt = ccp.footwear_mask(labels)
        pm = prior.probability(image, gt_keypoints(gt), person_box(labels))
        m = pm.full(gt.shape) >= 0.5
        ious.append((m & gt).sum() / max((m | gt).sum(), 1))
    assert np.mean(ious) >= 0.6, ious


def test_prior_backend_masks_split_by_foot_and_quality_ranks(fixtures_dir: Path) -> None:
    """The default backend gives one mask per foot on its own shoe; a mask moved onto the trousers scores lower."""
    from shoemodel.curation.segment import person_result
    from shoemodel.curation.segment_prior import PriorSegmenter, from_config, load_prior
    from shoemodel.models.shoe_prior.predictor import SHIPPED_128
    from shoemodel.training.shoe_prior import ccp

    root = _ccp(fixtures_dir)
    seg = from_config(SegmentConfig(prior_fallback="none"))  # the default backend as configured (its views)
    assert isinstance(seg, PriorSegmenter)
    assert seg.prior.version == f"{load_prior().version} + {load_prior(str(SHIPPED_128)).version}"  # both shipped priors
    cfg = SegmentConfig(backend="shoe_prior", min_quality=0.0)  # the floor itself: the strict config below
    ious = []
    for pid in ccp.load_split(SPLIT, "test")[:4]:  # foot points read off the labels (no pose model)
        image, gt, k, prompts, masks = labelled_feet(root, pid, seg)
        h, w = gt.shape
        assert len(masks) == len(prompts) and all(m.any() for m in masks)
        if len(masks) == 2:
            assert not (masks[0] & masks[1]).any()
        union, reason, qc, extra = person_result((h, w), prompts, masks, cfg, k, image)
        assert reason is None and 0 <= extra["quality"] <= 1
        ious.append((union & gt).sum() / (union | gt).sum())
    assert np.mean(ious) >= 0.5, ious  # right on average (IoU >= 0.5; val mean 0.70 with pose points)
    up = [np.roll(m, -int(0.5 * (np.ptp(np.nonzero(m)[0]) + 1)) - 20, axis=0) for m in masks]  # onto the leg
    _, _, qc_up, extra_up = person_result((h, w), prompts, up, SegmentConfig(backend="shoe_prior", max_above_ankle_frac=1.0,
                                                                             max_leg_overlap=1.0, min_quality=0.0), k, image)
    assert extra_up.get("quality", 0.0) < extra["quality"] - 0.2, (extra_up, extra)
    strict = SegmentConfig(backend="shoe_prior", min_quality=0.99)
    _, reason, _, _ = person_result((h, w), prompts, masks, strict, k, image)
    assert reason is not None and reason.startswith("quality: ") and "prior_sure" in reason


def test_quality_combines_measured_parts_only() -> None:
    from shoemodel.curation.mask_quality import WEIGHTS, combine

    assert combine({}) == 0.0
    assert combine({"prior_iou": 1.0, "point_conf": 1.0}) == pytest.approx(1.0)
    assert combine({"prior_iou": 0.0, "point_conf": 1.0}) == pytest.approx(
        WEIGHTS["point_conf"] / (WEIGHTS["point_conf"] + WEIGHTS["prior_iou"]))
    assert combine({"prior_iou": 0.5, "qc": 0.0}) == pytest.approx(0.5) or WEIGHTS["qc"] > 0  # unweighted: recorded only
    assert combine({"sam_iou": 2.0}) == pytest.approx(1.0)  # clipped


def test_refine_moves_unsure_heel_and_toe_to_the_mask_ends() -> None:
    from shoemodel.curation.mask_quality import refine_points

    mask = np.zeros((100, 200), bool)
    mask[60:80, 50:150] = True  # a shoe, heel at x=50, toe at x=149
    k = np.zeros((12, 3), np.float32)
    k[KEYPOINT_NAMES.index("left_ankle")] = (60, 55, 0.95)
    k[KEYPOINT_NAMES.index("left_heel")] = (70, 40, 0.3)  # unsure and above the shoe (on the sock)
    k[KEYPOINT_NAMES.index("left_big_toe")] = (140, 70, 0.95)  # sure and on the shoe: stays
    k[KEYPOINT_NAMES.index("left_small_toe")] = (150, 95, 0.9)  # sure but below the shoe: snapped onto it
    p = foot_prompts(k, 200, 100)[0]
    out, moved = refine_points(k, "left", mask, p, min_score=0.5)
    heel = out[KEYPOINT_NAMES.index("left_heel")]
    assert "heel" in moved and mask[int(heel[1]), int(heel[0])] and heel[0] < 70  # in the back fifth of the shoe
    assert np.array_equal(out[KEYPOINT_NAMES.index("left_big_toe")], k[KEYPOINT_NAMES.index("left_big_toe")])
    small = out[KEYPOINT_NAMES.index("left_small_toe")]
    assert "small_toe" in moved and mask[int(small[1]), int(small[0])]
    assert out[KEYPOINT_NAMES.index("left_heel"), 2] == pytest.approx(0.3)  # the pose's score is kept


def test_refine_on_a_mask_of_two_pixels_gives_points_on_it() -> None:
    """A two-pixel mask leaves the 5-15 % end bands empty (no pixel between those percentiles): the heel and toe
    still land on mask pixels, never NaN (CCP test photo 0256 failed with a NaN heel before)."""
    from shoemodel.curation.mask_quality import refine_points

    mask = np.zeros((100, 200), bool)
    mask[70, 90:92] = True
    k = np.zeros((12, 3), np.float32)
    k[KEYPOINT_NAMES.index("left_ankle")] = (90, 50, 0.9)
    k[KEYPOINT_NAMES.index("left_heel")] = (80, 72, 0.2)
    k[KEYPOINT_NAMES.index("left_big_toe")] = (110, 74, 0.2)
    p = foot_prompts(k, 200, 100)[0]
    out, moved = refine_points(k, "left", mask, p, min_score=0.5)
    for name in ("heel", "big_toe"):
        x, y, _ = out[KEYPOINT_NAMES.index(f"left_{name}")]
        assert np.isfinite([x, y]).all() and mask[int(y), int(x)] and name in moved

def test_sam_prompts_from_the_prior_on_random_weight_sam(fixtures_dir: Path) -> None:
    """Box from the prior's mask, positives on it, negatives off it; SAM's scores reach the quality parts."""
    from shoemodel.curation.prompts import prior_prompts
    from shoemodel.curation.segment import segment_decoded
    from shoemodel.curation.segment_prior import foot_mask, load_prior, prior_maps
    from shoemodel.curation.segment_sam import SamSegmenter
    from shoemodel.training.shoe_prior import ccp
    from tests.helpers import tiny_models

    root = _ccp(fixtures_dir)
    image, labels = ccp.read_photo(root, ccp.load_split(SPLIT, "test")[1])
    gt = ccp.footwear_mask(labels)
    k = gt_keypoints(gt)
    h, w = gt.shape
    prompts = foot_prompts(k, w, h, person_box=person_box(labels))
    prior = load_prior()
    new = prior_prompts(prior, image, prompts)
    for p, q, pm in zip(prompts, new, prior_maps(prior, image, prompts)):
        m = foot_mask(pm, p, (h, w))
        ys, xs = np.nonzero(m)
        assert q.box[0] <= xs.min() and q.box[2] >= xs.max() and q.box[1] <= ys.min() and q.box[3] >= ys.max()
        assert (q.labels == 1).sum() >= 2 and (q.labels == 0).sum() >= 1
        for (x, y), lab in zip(q.points.astype(int), q.labels):
            assert m[y, x] == bool(lab)
    import torch

    torch.manual_seed(0)
    seg = SamSegmenter(tiny_models.tiny_sam(), "sam", "cpu", "float32")
    seg.prior = prior
    row = {"source_uri": "x.jpg", "content_hash": "0" * 64, "keypoints": k.ravel().tolist(),
           "person_box": person_box(labels).tolist(), "person_index": [0]}
    out = segment_decoded([row], [image], seg, SegmentConfig(backend="sam", min_foot_area_ratio=0.0, max_box_fill=1.0,
                                                              min_thickness_ratio=0.0, max_components=99, max_other_foot_frac=1.0,
                                                              max_above_ankle_frac=1.0, max_leg_overlap=1.0))[0]
    qc = json.loads(out["mask_qc"])
    feet = [f for f in qc[0]["feet"] if f.get("ok")]
    assert feet, qc
    assert all("sam_iou" in f["quality_parts"] and "prior_iou" in f["quality_parts"] for f in feet)


def test_prior_views_average_crops_and_bad_views_are_refused_in_one_line(fixtures_dir: Path) -> None:
    """`prior_views` averages the prior over mirrored / wider crops (the map differs from the single crop and the
    backend's version names the views); a view that is not a zoom is refused naming the key."""
    from shoemodel.curation.segment_prior import from_config, load_prior, parse_views
    from shoemodel.training.shoe_prior import ccp

    assert parse_views("1, 1f,1.25") == ((1.0, False), (1.0, True), (1.25, False))
    for bad in ("1,sideways", "0", "1,,2", "9f"):
        with pytest.raises(ValueError, match=r"curation\.segment\.prior_views: .* is not a view"):
            parse_views(bad)
    one = from_config(SegmentConfig(prior_views="1", prior_fallback="none"))
    three = from_config(SegmentConfig(prior_views="1,1f,1.25", prior_fallback="none"))
    assert "views-1,1f,1.25" in three.version and "views" not in one.version
    root = _ccp(fixtures_dir)
    image, labels = ccp.read_photo(root, ccp.load_split(SPLIT, "test")[0])
    gt = ccp.footwear_mask(labels)
    prior = load_prior()
    k = gt_keypoints(gt)
    single = prior.probabilities(image, [(k, person_box(labels))])[0]
    mean = prior.probabilities(image, [(k, person_box(labels))], parse_views("1,1f,1.25"))[0]
    assert single.window == mean.window and not np.allclose(single.prob, mean.prob)
    assert 0 <= mean.prob.min() and mean.prob.max() <= 1


def test_a_foot_below_the_quality_floor_goes_and_its_pair_stays(fixtures_dir: Path) -> None:
    """quality_floor foot: one foot's mask moved off the shoe scores low, that foot is dropped with its reason, the
    other foot is the record; with both moved the person is dropped. quality_floor person (the default): the low
    foot pulls the person's mean below the floor and the person goes."""
    from shoemodel.curation.segment import person_result
    from shoemodel.curation.segment_prior import from_config
    from shoemodel.training.shoe_prior import ccp

    root = _ccp(fixtures_dir)
    seg = from_config(SegmentConfig(prior_fallback="none"))
    for pid in ccp.load_split(SPLIT, "test")[:8]:
        image, gt, k, prompts, masks = labelled_feet(root, pid, seg)
        h, w = gt.shape
        _, reason, qc, extra = person_result((h, w), prompts, masks, SegmentConfig(min_quality=0.0), k, image)
        if len(prompts) == 2 and reason is None and min(f["quality"] for f in qc) >= 0.6:
            break
    else:
        pytest.skip("no test photo with two well-scored feet among the first 8")
    loose = SegmentConfig(max_above_ankle_frac=1.0, max_leg_overlap=1.0, max_other_foot_frac=1.0, min_quality=0.6,
                          quality_floor="foot")
    sky = np.zeros_like(masks[1])
    sky[:60, :60] = True  # far from any shoe, in the photo's corner
    union, reason, qc, extra = person_result((h, w), prompts, [masks[0], sky], loose, k, image)
    assert reason is None and qc[0]["ok"] and not qc[1]["ok"] and qc[1]["reason"].startswith("quality: ")
    assert np.array_equal(union, masks[0] & union) and not (union & sky).any()
    _, reason, _, _ = person_result((h, w), prompts, [sky, np.roll(sky, 60, axis=1)], loose, k, image)
    assert reason is not None
    loose.quality_floor = "person"
    union, reason, qc, extra = person_result((h, w), prompts, [masks[0], sky], loose, k, image)
    assert union is None and reason.startswith("quality: ") and extra["quality"] < 0.6 <= qc[0]["quality"]


def test_segmenting_prior_is_the_mean_of_its_members(fixtures_dir: Path) -> None:
    """The default segmenting prior averages the shipped 96 px and 128 px maps on one window; one folder is that
    prior alone; every member's weights reach the segment stage's fingerprint."""
    from shoemodel.curation.provenance import model_info
    from shoemodel.curation.segment_prior import load_prior, segmenting_prior
    from shoemodel.models.shoe_prior.predictor import SHIPPED_128
    from shoemodel.training.shoe_prior import ccp

    root = _ccp(fixtures_dir)
    pid = ccp.load_split(SPLIT, "val")[0]
    image, labels = ccp.read_photo(root, pid)
    person = [(gt_keypoints(ccp.footwear_mask(labels)), person_box(labels))]
    both = segmenting_prior(SegmentConfig()).probabilities(image, person)[0]
    a, b = load_prior().probabilities(image, person)[0], load_prior(str(SHIPPED_128)).probabilities(image, person)[0]
    assert both.window == a.window == b.window
    assert np.allclose(both.prob, (a.prob + b.prob) / 2, atol=1e-6) and not np.allclose(a.prob, b.prob, atol=1e-3)
    alone = segmenting_prior(SegmentConfig(prior_weights=[str(SHIPPED_128)]))
    assert alone.version == load_prior(str(SHIPPED_128)).version
    info, info_alone = model_info("segment", SegmentConfig()), model_info("segment", SegmentConfig(prior_weights=[str(SHIPPED_128)]))
    assert len(info["prior_sha256"]) == 2 and info_alone["prior_sha256"] == info["prior_sha256"][1:]


def test_quality_floor_refuses_an_unknown_mode(tmp_path: Path) -> None:
    from shoemodel.config import ConfigTypeError, load_section
    from shoemodel.curation.config import CurationConfig

    params = tmp_path / "params.yaml"
    params.write_text("curation:\n  segment:\n    quality_floor: feet\n")
    with pytest.raises(ConfigTypeError, match="quality_floor"):
        load_section(CurationConfig, "curation", params)
