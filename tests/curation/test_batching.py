"""Batched across images and decode-once (fused) paths give the per-image path's results, on the fixture photos.

Stated tolerance: SAM masks from a batched image-encoder call may differ from the library's own one-image
`set_image` path in at most 1e-4 of a mask's pixels (float summation order in the batched matmuls; measured:
0 or 1 pixel of ~10^5); person boxes within 1e-3 px; everything else (statuses, reasons, keypoints) equal.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from shoemodel.curation import parts
from shoemodel.curation.pipeline import run_all
from shoemodel.curation.prefetch import batches
from shoemodel.schemas.keypoints import KEYPOINT_NAMES
from shoemodel.schemas.records import decode_image

MASK_TOLERANCE = 1e-4  # fraction of a mask's pixels that may flip between the batched and per-image SAM paths


def _feet(image: np.ndarray) -> np.ndarray:
    """Two plausible feet near the bottom of the image (prompts for SAM; the model is random, so any place will do)."""
    h, w = image.shape[:2]
    k = np.zeros((12, 3), np.float32)
    for side, x in (("left", 0.35), ("right", 0.6)):
        for name, (dx, dy) in {"knee": (0, 0.7), "ankle": (0, 0.85), "big_toe": (0.05, 0.9), "heel": (-0.02, 0.9)}.items():
            k[KEYPOINT_NAMES.index(f"{side}_{name}")] = ((x + dx) * w, dy * h, 0.9)
    return k


def _close_masks(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and (a != b).sum() <= MASK_TOLERANCE * max(int(a.sum()), int(b.sum()), 1)


def test_prefetch_keeps_order_and_reports_decode_errors_in_place(people_photos: list[Path]) -> None:
    files = people_photos[:5]
    rows = [{"image": f.read_bytes(), "i": i} for i, f in enumerate(files)]
    rows.insert(2, {"image": b"not an image", "i": -1})
    for threads in (0, 2):
        got = list(batches(rows, 2, threads=threads, depth=1, prepare=lambda ims: len(ims)))
        assert [r["i"] for b in got for r in b.rows] == [r["i"] for r in rows]
        images = [im for b in got for im in b.images]
        assert isinstance(images[2], Exception) and all(isinstance(im, np.ndarray) for k, im in enumerate(images) if k != 2)
        assert [b.prepared for b in got] == [2, 2, 2]


@pytest.mark.fixtures
@pytest.mark.parametrize("backend", ["sam", "hf_sam"])
def test_sam_encoder_on_a_stacked_batch_equals_one_image_at_a_time(people_photos: list[Path], backend: str) -> None:
    import torch

    from shoemodel.curation.prompts import foot_prompts
    from shoemodel.curation.segment_sam import SamSegmenter
    from tests.helpers.tiny_models import tiny_hf_sam, tiny_sam

    torch.manual_seed(0)
    seg = SamSegmenter(tiny_sam() if backend == "sam" else tiny_hf_sam(), device="cpu")
    images = [decode_image(f.read_bytes(), "RGB") for f in people_photos]  # sizes differ: 333x500 .. 1080x810
    prompts = [foot_prompts(_feet(im), im.shape[1], im.shape[0]) for im in images]
    batched = seg.segment_batch(images, prompts, seg.prepare(images))
    compared = 0
    for im, ps, got in zip(images, prompts, batched):
        seg.sam.set_image(im)  # the library's own one-image path
        ref = [seg.sam.predict(boxes=p.box[None], points=p.points[None], labels=p.labels[None])[0][0] for p in ps]
        assert len(got) == len(ref) == 2
        for a, b in zip(ref, got):
            assert _close_masks(a, b), (a != b).sum()
            compared += 1
    assert compared == 2 * len(images)


def _part_rows(work: Path, stage: str) -> dict[str, dict]:
    d = work / stage
    return {r["source_uri"]: r for i in parts.part_indices(d) for r in parts.read_part(d, i)}


def _same_rows(a: dict[str, dict], b: dict[str, dict]) -> None:
    assert a.keys() == b.keys()
    for uri, ra in a.items():
        rb = b[uri]
        assert (ra["status"], ra["reason"]) == (rb["status"], rb["reason"]), uri
        for key in ra:
            if key in ("boxes", "person_box") and ra[key] is not None:
                np.testing.assert_allclose(ra[key], rb[key], atol=1e-3)
            elif key == "shoe_mask" and ra[key] is not None:
                assert _close_masks(decode_image(ra[key], "L") > 127, decode_image(rb[key], "L") > 127), uri
            elif key == "shoe_masks" and ra[key] is not None:
                assert [m is None for m in ra[key]] == [m is None for m in rb[key]], uri
                assert all(_close_masks(decode_image(x, "L") > 127, decode_image(y, "L") > 127)
                           for x, y in zip(ra[key], rb[key]) if x is not None), uri
            elif key == "mask_qc" and ra[key] is not None:
                qa, qb = json.loads(ra[key]), json.loads(rb[key])  # per person, per foot
                assert [(q["person"], q["ok"], [(f["side"], f["ok"]) for f in q["feet"]]) for q in qa] == \
                    [(q["person"], q["ok"], [(f["side"], f["ok"]) for f in q["feet"]]) for q in qb], uri
            elif key not in ("boxes", "person_box", "shoe_mask", "shoe_masks", "mask_qc"):
                assert ra[key] == rb[key], (uri, key)


@pytest.fixture(scope="module")
def three_paths(tmp_path_factory: pytest.TempPathFactory, people_photos: list[Path], yolox_weights: Path, photo_config,
                mediapipe_installed) -> dict[str, tuple[Path, dict]]:
    """The same photos through (a) one image at a time, in line, (b) batched with prefetching, (c) fused; real YOLOX-Nano
    and MediaPipe, a tiny random SAM saved as a segment-anything .pth (its QC opened up: a random model's masks are not
    shoes, and here only sameness across paths matters)."""
    import torch

    from tests.helpers.tiny_models import tiny_sam

    root = tmp_path_factory.mktemp("paths")
    torch.manual_seed(0)
    torch.save(tiny_sam().state_dict(), root / "sam_tiny.pth")
    files = [str(f) for f in people_photos]
    out = {}
    for name, batch, threads, fused in (("per_image", 1, 0, False), ("batched", 4, 2, False), ("fused", 4, 2, True)):
        cfg = photo_config(root / name / "work", files, yolox_weights)
        cfg.ingest.part_size = 3  # two parts: resume has a part to redo, batches still span images
        cfg.segment = dataclasses.replace(cfg.segment, backend="sam", weights=str(root / "sam_tiny.pth"), max_box_fill=1e9,
                                          min_foot_area_ratio=0.0, min_thickness_ratio=0.0, max_other_foot_frac=1.0,
                                          max_above_ankle_frac=1.0, max_components=10**6, max_leg_overlap=1.0,
                                          min_quality=0.0)
        cfg.fused = fused
        for section in (cfg.detect, cfg.pose, cfg.segment):
            section.batch_size, section.loader_threads = batch, threads
        out[name] = (root / name / "work", run_all(cfg, root / name / "set"), root / name / "set", cfg)
    return out


@pytest.mark.fixtures
def test_batched_and_fused_parts_equal_the_per_image_parts(three_paths: dict) -> None:
    ref_work, ref_summary, _, _ = three_paths["per_image"]
    assert ref_summary["segment"]["inputs"] >= 3  # COCO walkers and bus.jpg reach SAM
    for name in ("batched", "fused"):
        work, summary, _, _ = three_paths[name]
        for stage in ("detect", "pose", "segment"):
            _same_rows(_part_rows(ref_work, stage), _part_rows(work, stage))
            assert summary[stage]["inputs"] == ref_summary[stage]["inputs"]
            assert summary[stage]["kept"] == ref_summary[stage]["kept"]
        assert summary["build"]["kept"] == ref_summary["build"]["kept"]


@pytest.mark.fixtures
def test_fused_records_and_resume_match_the_staged_run(three_paths: dict, tmp_path: Path) -> None:
    """Fused and staged (both batched) build the same records; a fused run resumes parts a staged run left."""
    import shutil

    from shoemodel.store import iter_records

    recs = {n: sorted(iter_records(three_paths[n][2]), key=lambda r: r["id"]) for n in ("batched", "fused")}
    assert len(recs["fused"]) == len(recs["batched"]) >= 1
    for a, b in zip(recs["batched"], recs["fused"]):
        assert (a["id"], a["keypoints"], a["provenance"]) == (b["id"], b["keypoints"], b["provenance"])
    prov = json.loads(recs["fused"][0]["provenance"])
    assert prov["detect"]["runtime"] == [{"device": "cpu", "dtype": "float32", "provider": "CPUExecutionProvider"}]
    assert prov["segment"]["runtime"][0]["device"] == "cpu"
    # resume: drop the last pose and segment parts of the staged work folder, then finish it fused
    work = tmp_path / "work"
    shutil.copytree(three_paths["batched"][0], work)
    last = parts.part_indices(work / "segment")[-1]
    parts.part_path(work / "segment", last).unlink()
    parts.part_path(work / "pose", last).unlink()
    first = parts.part_path(work / "segment", 0).stat().st_mtime_ns
    detect_last = parts.part_path(work / "detect", last).stat().st_mtime_ns
    cfg = dataclasses.replace(three_paths["fused"][3], work_dir=str(work))
    summary = run_all(cfg, tmp_path / "set")
    assert parts.part_path(work / "segment", 0).stat().st_mtime_ns == first  # finished parts kept
    assert parts.part_path(work / "detect", last).stat().st_mtime_ns == detect_last  # read back, not redone
    assert summary == three_paths["fused"][1]
    resumed = sorted(iter_records(tmp_path / "set"), key=lambda r: r["id"])
    assert [(r["id"], r["shoe_mask"]) for r in resumed] == [(r["id"], r["shoe_mask"]) for r in recs["fused"]]


@pytest.mark.fixtures
def test_speed_settings_redo_no_part_on_either_path(three_paths: dict, tmp_path: Path) -> None:
    """Parts carry content-keyed fingerprints on both paths: a fused run over a staged work folder, and a staged run
    over a fused one, with other batch sizes, loader threads and device, redo nothing; a changed setting that
    alters the output (pose.min_point_score) redoes pose and segment but reads detect back."""
    import shutil

    for made, other in (("batched", "fused"), ("fused", "batched")):
        work = tmp_path / made
        shutil.copytree(three_paths[made][0], work)
        cfg = dataclasses.replace(three_paths[other][3], work_dir=str(work))
        for section in (cfg.detect, cfg.pose, cfg.segment):
            section.batch_size, section.loader_threads, section.device = 3, 1, "cpu"
        parts.run_counts.clear()
        run_all(cfg, tmp_path / f"{made}-set")
        assert [parts.run_counts[s] for s in ("detect", "pose", "segment")] == [0, 0, 0], (made, parts.run_counts)
    cfg.pose = dataclasses.replace(cfg.pose, min_point_score=cfg.pose.min_point_score + 0.01)
    parts.run_counts.clear()
    run_all(cfg, tmp_path / "changed-set")
    n = len(parts.part_indices(Path(cfg.work_dir) / "segment"))
    assert [parts.run_counts[s] for s in ("detect", "pose", "segment")] == [0, n, n]


@pytest.mark.fixtures
def test_vectorised_heatmap_decoding_equals_transformers_post_processing(people_photos: list[Path]) -> None:
    """All crops' 133 heatmaps decoded in one go give transformers' own `post_process_pose_estimation` numbers."""
    import torch

    from shoemodel.curation.pose_vitpose import VitPoseWholeBody
    from shoemodel.curation.vitpose_decode import decode
    from tests.helpers.tiny_models import tiny_vitpose

    torch.manual_seed(0)
    est = VitPoseWholeBody(model=tiny_vitpose(), device="cpu")
    images = [decode_image(f.read_bytes(), "RGB") for f in people_photos[:3]]
    boxes = [[[10.0, 20.0, 200.0, 300.0], [50.0, 40.0, 120.0, 250.0]], [[0.0, 0.0, 300.0, 320.0]], [[5.0, 5.0, 90.0, 180.0]]]
    inputs = est.processor(images, boxes=boxes, return_tensors="pt")
    with torch.inference_mode():
        pred = est.model(**inputs)
    pred.heatmaps = pred.heatmaps.clone()
    pred.heatmaps[:, ::2, 0, :] += 2.0  # half the peaks on the top border: edge-clamped neighbours are read too
    for no_peak in (False, True):  # the window path; then a point with no positive peak (the whole-map path)
        if no_peak:
            pred.heatmaps[0, 3] = -1.0
        ref = est.processor.post_process_pose_estimation(pred, boxes=boxes)
        ref = np.stack([np.concatenate([p["keypoints"].numpy(), p["scores"].numpy()[:, None]], 1) for img in ref for p in img])
        got = decode(pred.heatmaps.numpy(), [b for bx in boxes for b in bx], (64, 48))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-3)
