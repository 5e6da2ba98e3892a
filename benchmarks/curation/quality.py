"""Curation quality on real photos with ground truth: the offline default (YOLOX-Nano -> MediaPipe -> shoe masks).

Measures, with the stage functions the pipeline runs (detect_rows -> pose_rows -> segment_rows):
- foot keypoints vs COCO-WholeBody ground truth (images/mmpose/coco): pose alone on the annotated boxes, and the
  persons the pipeline keeps (matched to a GT person by box IoU), as error / max(box w, h);
- shoe masks vs the Fashionpedia shoe polygons (images/fashionpedia/000000009813.jpg): IoU of the best foot mask
  of the kept persons per shoe, before QC (what the segmenter made) and after QC (what a record keeps);
- the person/feet filter vs a labelled list of the fixture photos (feet_labels.json, a reason per photo):
  an image counts as kept when it yields at least one record; precision and recall;
- the kept masks' QC numbers (box fill, size against the expected foot area) over every photo.
Run:  python benchmarks/curation/quality.py [--label after] [--set segment.person_mask=none]
      (writes quality.json and quality.md beside this file; a run replaces the column of its label)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

HERE = Path(__file__).resolve().parent
FIXTURES = Path(os.environ.get("SHOEMODEL_FIXTURES", HERE.parents[1].parent / "shared" / "fixtures"))
LABELS = HERE / "feet_labels.json"
FOOT_CHECK = ("left_ankle", "right_ankle", "left_big_toe", "left_heel", "right_big_toe", "right_heel")


def default_config():
    """The offline default of params.yaml's curation section, pointed at the fixture YOLOX-Nano weights."""
    from shoemodel.curation.config import CurationConfig

    cfg = CurationConfig(progress=False)
    cfg.detect.backend, cfg.detect.weights = "yolox_onnx", str(FIXTURES / "weights" / "yolox_nano" / "yolox_nano.onnx")
    return cfg


def _row(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {"source_uri": str(path), "content_hash": hashlib.sha256(data).hexdigest(), "status": "kept", "reason": None,
            "image": data}


def _persons(row: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(P, 12, 3) keypoints and (P, 5) boxes of a pose row (one person or several)."""
    k = np.asarray(row.get("keypoints") or [], np.float32).reshape(-1, 12, 3)
    b = np.asarray(row.get("person_box") or [], np.float32).reshape(-1, 5)
    return k, b


def run_pipeline(cfg, models, paths: list[Path]) -> dict[str, dict[str, Any]]:
    """source path -> {detect, pose, segment rows} through the stage row functions, one image at a time."""
    from shoemodel.curation.detect import detect_rows
    from shoemodel.curation.pose import pose_rows
    from shoemodel.curation.segment import segment_rows

    det, est, seg = models
    out = {}
    for p in paths:
        r = _row(p)
        d = detect_rows([r], det, cfg.detect)[0]
        res: dict[str, Any] = {"detect": d}
        if d["status"] == "kept":
            q = pose_rows([{**r, **d}], est, cfg.pose)[0]
            res["pose"] = q
            if q["status"] == "kept":
                res["segment"] = segment_rows([{**r, **d, **q}], seg, cfg.segment)[0]
        out[str(p)] = res
    return out


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    from shoemodel.curation.boxes import iou

    return float(iou(a[None, :4], b[None, :4])[0, 0])


def keypoint_errors(cfg, est, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Foot-point error / max(GT box w, h): pose on the GT boxes, and the persons the pipeline kept."""
    from shoemodel.curation.pose import to_shoeleg
    from shoemodel.schemas.keypoints import KEYPOINT_NAMES
    from shoemodel.schemas.records import decode_image

    coco = FIXTURES / "images" / "mmpose" / "coco"
    d = json.loads((coco / "test_coco_wholebody.json").read_text())
    names = {i["id"]: i["file_name"] for i in d["images"]}
    check = [KEYPOINT_NAMES.index(n) for n in FOOT_CHECK]
    gt_by_file: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for a in d["annotations"]:
        body = np.asarray(a["keypoints"], np.float32).reshape(17, 3)
        foot = np.asarray(a["foot_kpts"], np.float32).reshape(6, 3)
        x, y, w, h = a["bbox"]
        gt_by_file.setdefault(names[a["image_id"]], []).append(
            (np.concatenate([body[11:17], foot]), np.array([x, y, x + w, y + h, 1], np.float32)))
    on_gt, missed, pipe, wrong_person, kept_persons = [], 0, [], 0, 0
    for name, people in gt_by_file.items():
        image = decode_image((coco / name).read_bytes(), "RGB")
        for gt, box in people:
            if not (gt[check, 2] > 0).any():
                continue
            pred = to_shoeleg(est.estimate(image, box[None])[0], image.shape[1], image.shape[0], cfg.pose.min_point_score)
            scale = float(max(box[2] - box[0], box[3] - box[1]))
            for i in check:
                if gt[i, 2] > 0:
                    if pred[i, 2] > 0:
                        on_gt.append(float(np.hypot(*(pred[i, :2] - gt[i, :2]))) / scale)
                    else:
                        missed += 1
        res = results.get(str(coco / name), {})
        if res.get("pose", {}).get("status") != "kept":
            continue
        for k, pbox in zip(*_persons(res["pose"])):
            kept_persons += 1
            ious = [_box_iou(pbox, b) for _, b in people]
            j = int(np.argmax(ious))
            if ious[j] < 0.5:
                wrong_person += 1
                continue
            gt, box = people[j]
            scale = float(max(box[2] - box[0], box[3] - box[1]))
            errs = [float(np.hypot(*(k[i, :2] - gt[i, :2]))) / scale for i in check if gt[i, 2] > 0 and k[i, 2] > 0]
            pipe.extend(errs)
            if errs and float(np.median(errs)) > 0.10:
                wrong_person += 1
    e, p = np.asarray(on_gt), np.asarray(pipe)
    return {
        "pose_on_gt_boxes": {"points": int(len(e)), "missed": missed,
                             "median": round(float(np.median(e)), 4) if len(e) else None,
                             "p90": round(float(np.percentile(e, 90)), 4) if len(e) else None},
        "kept_persons": {"persons": kept_persons, "points": int(len(p)),
                         "median": round(float(np.median(p)), 4) if len(p) else None,
                         "p90": round(float(np.percentile(p, 90)), 4) if len(p) else None,
                         "off_person": wrong_person},
    }


def _polygon(poly: list[float], shape: tuple[int, int]) -> np.ndarray:
    import cv2

    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.asarray(poly, np.float32).reshape(-1, 2).round().astype(np.int32)], 1)
    return m.astype(bool)


def _person_box(results: dict[str, dict[str, Any]], path: Path) -> np.ndarray | None:
    """The largest detected person box of a photo (the oracle-keypoint run gives it to the segmenter)."""
    boxes = np.asarray(results[str(path)]["detect"].get("boxes") or [], np.float32).reshape(-1, 5)
    return boxes[0] if len(boxes) else None


def foot_masks(cfg, seg, image: np.ndarray, k: np.ndarray,
               person_box: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, str | None]]:
    """(raw mask, mask after QC cleaning, QC reason) per foot of one person, as the segment stage makes them."""
    from shoemodel.curation.mask_qc import check_mask
    from shoemodel.curation.prompts import foot_prompts

    h, w = image.shape[:2]
    prompts = foot_prompts(k, w, h, cfg.segment.box_padding, cfg.segment.negative_on_calf, person_box)
    out = []
    for p, m in zip(prompts, seg.segment(image, prompts)):
        clean, reason, _ = check_mask(m, p, cfg.segment)
        out.append((m, clean, reason))
    return out


def shoe_ious(cfg, seg, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Best IoU per Fashionpedia shoe polygon over the feet of the persons the pose stage kept."""
    from shoemodel.schemas.records import decode_image

    d = FIXTURES / "images" / "fashionpedia"
    ann = json.loads((d / "sample.json").read_text())
    shoe_id = next(c["id"] for c in ann["categories"] if c["name"] == "shoe")
    path = d / "000000009813.jpg"
    image = decode_image(path.read_bytes(), "RGB")
    gts = [_polygon(a["segmentation"][0], image.shape[:2]) for a in ann["annotations"]
           if a["image_id"] == 9813 and a["category_id"] == shoe_id]
    res = results.get(str(path), {})
    feet = []
    if res.get("pose", {}).get("status") == "kept":
        for k, box in zip(*_persons(res["pose"])):
            feet.extend(foot_masks(cfg, seg, image, k, box))

    def best(masks: list[np.ndarray]) -> list[float]:
        return [round(max([float((m & g).sum() / max((m | g).sum(), 1)) for m in masks] or [0.0]), 4) for g in gts]

    raw = best([f[0] for f in feet])
    kept = best([f[1] for f in feet if f[2] is None])
    oracle = []
    for g in gts:  # the segmenter alone: heel, toe and ankle read off the polygon (sole = its lowest 40 %)
        ys, xs = np.nonzero(g)
        low = ys >= np.percentile(ys, 60)
        k = np.zeros((12, 3), np.float32)
        k[8] = (xs[low].min() + 2, ys[low][xs[low].argmin()], 1)  # left heel
        k[6] = (xs[low].max() - 2, ys[low][xs[low].argmax()], 1)  # left big toe
        k[4] = (xs[ys.argmin()], ys.min(), 1)  # left ankle
        (m, _, _), = foot_masks(cfg, seg, image, k, person_box=_person_box(results, path))
        oracle.append(round(float((m & g).sum() / max((m | g).sum(), 1)), 4))
    return {"shoes": len(gts), "feet_segmented": len(feet), "iou_raw": raw, "iou_kept": kept, "iou_oracle_points": oracle,
            "mean_oracle": round(float(np.mean(oracle)), 4),
            "mean_raw": round(float(np.mean(raw)), 4), "mean_kept": round(float(np.mean(kept)), 4),
            "segment_status": res.get("segment", {}).get("status"), "segment_reason": res.get("segment", {}).get("reason")}


def filter_scores(results: dict[str, dict[str, Any]], labels: list[dict[str, Any]]) -> dict[str, Any]:
    """Image-level precision/recall of 'yields a record' against the feet labels (unsure photos not scored)."""
    tp = fp = fn = tn = 0
    per = []
    for lab in labels:
        res = results[str(FIXTURES / lab["path"])]
        stage = next((s for s in ("segment", "pose", "detect") if s in res), "detect")
        kept = res.get("segment", {}).get("status") == "kept"
        records = sum(1 for q in _people_qc(res["segment"]) if q.get("ok")) if kept else 0
        per.append({"path": lab["path"], "feet": lab["feet"], "kept": kept,
                    "stopped_at": None if kept else stage, "reason": res[stage].get("reason"),
                    "persons": int(len(_persons(res["pose"])[0])) if res.get("pose", {}).get("status") == "kept" else 0,
                    "records": records})
        if lab["feet"] is None:
            continue
        tp += kept and lab["feet"]
        fp += kept and not lab["feet"]
        fn += (not kept) and lab["feet"]
        tn += (not kept) and not lab["feet"]
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": round(tp / max(tp + fp, 1), 4), "recall": round(tp / max(tp + fn, 1), 4), "photos": per}


def _people_qc(seg_row: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-person QC of a segment row; a one-person row of the older shape (a list of feet) as one person."""
    qc = json.loads(seg_row.get("mask_qc") or "[]")
    if qc and "feet" not in qc[0]:
        return [{"ok": seg_row["status"] == "kept", "feet": qc}]
    return qc


def mask_stats(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The QC numbers of every kept foot mask: the largest box fill and the smallest size against the expected foot."""
    fills, own, sizes, kept = [], [], [], 0
    for res in results.values():
        seg = res.get("segment")
        if not seg or seg["status"] != "kept":
            continue
        for f in (f for q in _people_qc(seg) if q.get("ok") for f in q["feet"]):
            if f.get("ok"):
                kept += 1
                fills.append(f.get("box_fill", f.get("area_frac")))
                if "own_box_fill" in f:
                    own.append(f["own_box_fill"])
                if "foot_area_ratio" in f:
                    sizes.append(f["foot_area_ratio"])
    return {"kept_feet": kept, "max_box_fill": round(max(fills), 4) if fills else None,
            "over_085": int(sum(v > 0.85 for v in fills)),
            "max_own_box_fill": round(max(own), 4) if own else None,
            "min_foot_area_ratio": round(min(sizes), 4) if sizes else None}


def apply_sets(cfg, sets: list[str]) -> None:
    """`section.key=value` overrides of the curation config (value read as YAML), e.g. segment.person_mask=none."""
    import yaml

    for item in sets:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        target = getattr(cfg, section, None)
        if target is None or not hasattr(target, name):
            raise SystemExit(f"--set {item}: no curation key {key}")
        setattr(target, name, yaml.safe_load(value))


def measure(label: str = "current", sets: list[str] | None = None) -> dict[str, Any]:
    """Every number of the quality table, from one pass over the fixture photos."""
    from shoemodel.curation.detect import build_detector
    from shoemodel.curation.pose import build_pose
    from shoemodel.curation.segment import build_segmenter

    labels = json.loads(LABELS.read_text())["photos"]
    cfg = default_config()
    apply_sets(cfg, sets or [])
    t0 = time.perf_counter()
    models = (build_detector(cfg.detect), build_pose(cfg.pose), build_segmenter(cfg.segment))
    results = run_pipeline(cfg, models, [FIXTURES / lab["path"] for lab in labels])
    out = {"label": label, "segment_backend": cfg.segment.backend, "sets": sets or [],
           "keypoints": keypoint_errors(cfg, models[1], results),
           "shoe_masks": shoe_ious(cfg, models[2], results),
           "filter": filter_scores(results, labels),
           "kept_masks": mask_stats(results)}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def table(runs: list[dict[str, Any]]) -> str:
    """Markdown: one column per run (before / after)."""
    rows = [
        ("foot-point error, pose on GT boxes: median / p90 (of box)",
         lambda r: f"{r['keypoints']['pose_on_gt_boxes']['median']} / {r['keypoints']['pose_on_gt_boxes']['p90']}"),
        ("foot-point error, kept persons: median / p90", lambda r: f"{r['keypoints']['kept_persons']['median']} / {r['keypoints']['kept_persons']['p90']}"),
        ("kept COCO persons (off-person: wrong box or points > 10 %)",
         lambda r: f"{r['keypoints']['kept_persons']['persons']} ({r['keypoints']['kept_persons']['off_person']})"),
        ("Fashionpedia shoe IoU, segmenter output (2 shoes)", lambda r: f"{r['shoe_masks']['iou_raw']} mean {r['shoe_masks']['mean_raw']}"),
        ("Fashionpedia shoe IoU, segmenter alone (foot points from the polygon)",
         lambda r: f"{r['shoe_masks']['iou_oracle_points']} mean {r['shoe_masks']['mean_oracle']}"),
        ("Fashionpedia shoe IoU, masks kept by QC", lambda r: f"{r['shoe_masks']['iou_kept']} mean {r['shoe_masks']['mean_kept']}"),
        ("filter precision / recall (TP FP FN TN)",
         lambda r: f"{r['filter']['precision']} / {r['filter']['recall']} ({r['filter']['tp']} {r['filter']['fp']} {r['filter']['fn']} {r['filter']['tn']})"),
        ("kept foot masks; largest box fill; > 0.85", lambda r: f"{r['kept_masks']['kept_feet']}; {r['kept_masks']['max_box_fill']}; {r['kept_masks']['over_085']}"),
        ("largest kept mask / its own bounding box (a box: > 0.85)", lambda r: f"{r['kept_masks'].get('max_own_box_fill')}"),
        ("smallest kept mask / expected foot area", lambda r: f"{r['kept_masks']['min_foot_area_ratio']}"),
        ("records made (all photos)", lambda r: str(sum(p["records"] for p in r["filter"]["photos"]))),
        ("seconds (models built once, 22 photos)", lambda r: str(r["seconds"])),
    ]
    head = "| measure | " + " | ".join(r["label"] for r in runs) + " |\n|---|" + "---|" * len(runs) + "\n"
    return head + "".join(f"| {name} | " + " | ".join(fn(r) for r in runs) + " |\n" for name, fn in rows)


def build_segmenter_for(cfg):
    """The segment backend of the config."""
    from shoemodel.curation.segment import build_segmenter

    return build_segmenter(cfg.segment)


def measure_ccp_run(label: str, split: str, sets: list[str], pose_cache: str = "", limit: int = 0) -> dict[str, Any]:
    """One CCP column: the offline default (with --set overrides) on a split of the CCP photos."""
    from quality_ccp import measure_ccp

    from shoemodel.curation.detect import build_detector
    from shoemodel.curation.pose import build_pose

    cfg = default_config()
    apply_sets(cfg, sets)
    poses = json.loads(Path(pose_cache).read_text()) if pose_cache else None
    models = (None, None, build_segmenter_for(cfg)) if poses else (build_detector(cfg.detect), build_pose(cfg.pose),
                                                                   build_segmenter_for(cfg))
    return {"label": label, "segment_backend": cfg.segment.backend, "sets": sets,
            "ccp": measure_ccp(cfg, models, FIXTURES, split, poses, limit)}


def ccp_main(args: argparse.Namespace) -> None:
    """`--ccp SPLIT`: the CCP table (quality_ccp_SPLIT.json / .md beside this file; a run replaces its label's column).
    `--render` only rewrites the .md from the .json."""
    from quality_ccp import ranking

    out = HERE / f"quality_ccp_{args.ccp}.json"
    runs = json.loads(out.read_text())["runs"] if out.exists() else []
    if not args.render:
        run = measure_ccp_run(args.label, args.ccp, args.sets, args.pose_cache, args.limit)
        run["ranking"] = ranking(run["ccp"])
        labels = [r["label"] for r in runs]
        if args.label in labels:
            runs[labels.index(args.label)] = run
        else:
            runs.append(run)
        out.write_text(json.dumps({"command": "python benchmarks/curation/quality.py --ccp SPLIT --label LABEL [--set ...]",
                                   "runs": runs}, separators=(",", ":")))  # per-photo rows of every run: compact
    out.with_suffix(".md").write_text(ccp_markdown(args.ccp, runs))
    print(out.with_suffix(".md").read_text())


def ccp_markdown(split: str, runs: list[dict[str, Any]]) -> str:
    """The CCP table of every run, then per run: settings, per footwear type, quality ranking, photos left out."""
    from quality_ccp import ccp_table, ranking_table, type_table

    md = (f"# Shoe masks on the CCP {split} split\n\n`python benchmarks/curation/quality.py --ccp {split} --label LABEL "
          f"[--set ...] [--pose-cache FILE]`\n\n" + ccp_table(runs))
    for run in runs:
        rk = run.get("ranking", {})
        md += (f"\n## {run['label']}\n\nbackend {run['segment_backend']}, sets {run['sets'] or 'none'}, pose "
               f"{run['ccp']['pose']}, {run['ccp']['seconds']} s\n\n" + type_table(run)
               + f"\nQuality: Spearman(quality, IoU >= 0.5) = {rk.get('spearman_quality_right')}, Spearman(quality, IoU) = "
               f"{rk.get('spearman_quality_iou')}; per part (vs IoU >= 0.5): {rk.get('spearman_parts_right')}\n\n"
               + (ranking_table(rk) if rk else "")
               + "\nLabelled person not kept: "
               + (", ".join(f"{k} ({v})" for k, v in run["ccp"]["not_kept"].items()) or "none") + "\n")
    left = runs[-1]["ccp"]["left_out"] if runs else {}
    return md + "\nLeft out (every run): " + (", ".join(f"{k} ({v})" for k, v in left.items()) or "none") + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ccp", default="", help="train | val | test: the CCP shoe-mask table of that split instead")
    ap.add_argument("--pose-cache", default="", help="--ccp: detect + pose rows from this JSON (shoe_prior.ccp.pose_cache)")
    ap.add_argument("--limit", type=int, default=0, help="--ccp: the first N photos of the split")
    ap.add_argument("--render", action="store_true", help="--ccp: rewrite the .md from the .json only")
    ap.add_argument("--label", default="after", help="column name; a run replaces the column of the same label")
    ap.add_argument("--out", default=str(HERE / "quality.json"))
    ap.add_argument("--set", dest="sets", action="append", default=[], help="curation override, e.g. segment.person_mask=none")
    args = ap.parse_args()
    if not (FIXTURES / "images").is_dir():
        raise SystemExit(f"fixtures not found at {FIXTURES} (set SHOEMODEL_FIXTURES)")
    if args.ccp:
        return ccp_main(args)
    run = measure(args.label, args.sets)
    out = Path(args.out)
    runs = json.loads(out.read_text())["runs"] if out.exists() else []
    labels = [r["label"] for r in runs]
    if args.label in labels:
        runs[labels.index(args.label)] = run  # a rerun keeps its column's place
    else:
        runs.append(run)
    out.write_text(json.dumps({"command": "python benchmarks/curation/quality.py --label LABEL", "runs": runs}, indent=1))
    md = ("# Curation quality on the fixture photos\n\n`python benchmarks/curation/quality.py --label LABEL`\n\n" + table(runs)
          + "\nPer photo (last run): " + ", ".join(f"{Path(p['path']).name}: feet={p['feet']} kept={p['kept']}"
                                                 f"{'' if p['kept'] else ' (' + str(p['reason']) + ')'}" for p in run["filter"]["photos"]) + "\n")
    out.with_suffix(".md").write_text(md)
    print(table(runs))


if __name__ == "__main__":
    main()
