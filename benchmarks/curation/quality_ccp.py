"""Shoe masks on the CCP fixture photos (images/ccp) against their footwear labels: the benchmark that says whether
the shoe-leg set's masks are right on real photos.

For each photo of a split (benchmarks/curation/ccp_split.json; numbers are reported on `test`, thresholds are chosen
on `val`), the stage functions run as the pipeline runs them (detect_rows -> pose_rows -> segment_rows). CCP labels
the main person only, without left/right, so per photo:
- the labelled person is the pose person whose box holds the most footwear pixels; it is *kept* when it yields a
  record (its masks pass QC and the quality floor);
- its mask (the union of its kept feet) is compared with the footwear pixels of those feet (footwear pixels split
  by the nearest foot's points, as the segmenter splits its own): IoU, and right when IoU >= 0.5;
- its heel and toe points (big and small toe) are on the shoe when inside the footwear labels grown by 2 px;
- everything is also given per footwear type (the photo's most common footwear label).
Photos without footwear labels are left out (listed); so is nothing else: a photo whose detector or pose finds no
one counts as the labelled person not kept, with the stage's reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SPLIT = HERE / "ccp_split.json"


def ccp_root(fixtures: Path) -> Path:
    return fixtures / "images" / "ccp"


def labelled_index(keypoints: np.ndarray, boxes: np.ndarray, gt: np.ndarray) -> int | None:
    """The pose person whose box (grown 10 %) holds the most footwear pixels; None when no box holds any."""
    best, score = None, 0
    h, w = gt.shape
    for j, b in enumerate(boxes):
        x1, y1, x2, y2 = b[:4]
        gx, gy = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
        xa, ya, xb, yb = int(max(x1 - gx, 0)), int(max(y1 - gy, 0)), int(min(x2 + gx, w)), int(min(y2 + gy, h))
        n = int(gt[ya:yb, xa:xb].sum())
        if n > score:
            best, score = j, n
    return best


def kept_feet_gt(gt: np.ndarray, k: np.ndarray, kept_sides: list[str]) -> np.ndarray:
    """The footwear pixels of the kept feet: each pixel goes to the foot whose points are nearest (all of them when
    both feet are kept, or when only one foot has points)."""
    from shoemodel.curation.mask_qc import foot_samples, nearest
    from shoemodel.schemas.keypoints import KEYPOINT_NAMES

    def pts(side: str) -> np.ndarray:
        idx = [KEYPOINT_NAMES.index(f"{side}_{p}") for p in ("ankle", "heel", "big_toe", "small_toe")]
        q = k[idx]
        return q[q[:, 2] > 0, :2]

    sides = {s: pts(s) for s in ("left", "right")}
    if len(kept_sides) == 2 or any(len(v) == 0 for v in sides.values()):
        return gt
    own, other = sides[kept_sides[0]], sides["right" if kept_sides[0] == "left" else "left"]
    ys, xs = np.nonzero(gt)
    fx, fy = xs.astype(np.float32), ys.astype(np.float32)
    mine = nearest(fx, fy, foot_samples(own)) <= nearest(fx, fy, foot_samples(other))
    out = np.zeros_like(gt)
    out[ys[mine], xs[mine]] = True
    return out


def points_on_shoe(k: np.ndarray, gt: np.ndarray, tolerance: int = 2) -> tuple[int, int]:
    """(heel/toe points inside the footwear grown by `tolerance` px, heel/toe points present)."""
    import cv2

    from shoemodel.schemas.keypoints import KEYPOINT_NAMES

    grown = cv2.dilate(gt.astype(np.uint8), np.ones((2 * tolerance + 1,) * 2, np.uint8)) > 0
    idx = [KEYPOINT_NAMES.index(f"{s}_{p}") for s in ("left", "right") for p in ("heel", "big_toe", "small_toe")]
    on = total = 0
    h, w = gt.shape
    for x, y, s in k[idx]:
        if s <= 0:
            continue
        total += 1
        xi, yi = int(round(x)), int(round(y))
        on += bool(0 <= xi < w and 0 <= yi < h and grown[yi, xi])
    return on, total


def run_photo(photo_id: str, root: Path, models: tuple, cfg: Any, poses: dict[str, Any] | None) -> dict[str, Any]:
    """One photo through detect -> pose -> segment (pose from `poses` when given) and its numbers."""
    import hashlib

    from shoemodel.curation.detect import detect_rows
    from shoemodel.curation.parts import FAILED
    from shoemodel.curation.pose import pose_rows
    from shoemodel.curation.segment import segment_rows
    from shoemodel.schemas.records import decode_image
    from shoemodel.training.shoe_prior import ccp

    image, labels = ccp.read_photo(root, photo_id)
    gt = ccp.footwear_mask(labels)
    res: dict[str, Any] = {"id": photo_id, "type": ccp.footwear_type(labels)}
    if not gt.any():
        return {**res, "left_out": "no footwear labels"}
    path = root / "photos" / f"{photo_id}.jpg"
    raw = path.read_bytes()
    r = {"source_uri": str(path), "content_hash": hashlib.sha256(raw).hexdigest(), "status": "kept", "reason": None, "image": raw}
    det, est, seg = models
    t0 = time.perf_counter()
    if poses is not None:
        q = {**poses[photo_id]}
        q.setdefault("reason", None)
    else:
        d = detect_rows([r], det, cfg.detect)[0]
        q = pose_rows([{**r, **d}], est, cfg.pose)[0] if d["status"] == "kept" else d
    if q["status"] != "kept":
        return {**res, "kept": False, "reason": q.get("reason"), "failed": q["status"] == FAILED,
                "seconds": time.perf_counter() - t0}
    s = segment_rows([{**r, **q}], seg, cfg.segment)[0]
    res["seconds"] = time.perf_counter() - t0
    ks = np.asarray(q["keypoints"], np.float32).reshape(-1, 12, 3)
    boxes = np.asarray(q["person_box"], np.float32).reshape(-1, 5)
    j = labelled_index(ks, boxes, gt)
    res["persons"] = len(ks)
    if j is None:
        return {**res, "kept": False, "reason": "no pose person on the labelled shoes"}
    k = ks[j]
    qc = json.loads(s.get("mask_qc") or "[]")
    pq = qc[j] if j < len(qc) else {}
    masks = s.get("shoe_masks") or []
    png = masks[j] if j < len(masks) else None
    res["records_other_persons"] = sum(1 for i, m in enumerate(masks) if m is not None and i != j)
    on, total = points_on_shoe(k, gt)
    res["points_pose"] = [on, total]
    if s["status"] != "kept" or png is None:
        return {**res, "kept": False, "reason": pq.get("reason") or s.get("reason"), "failed": s["status"] == FAILED}
    mask = decode_image(png, "L") > 0
    sides = [f["side"] for f in pq.get("feet", []) if f.get("ok")]
    g = kept_feet_gt(gt, k, sides)
    iou = float((mask & g).sum() / max((mask | g).sum(), 1))
    res.update(kept=True, iou=iou, feet=len(sides), quality=pq.get("quality"),
               quality_parts=[f.get("quality_parts") for f in pq.get("feet", []) if f.get("ok")])
    refined = pq.get("keypoints_refined")
    if refined is not None:
        res["points_refined"] = list(points_on_shoe(np.asarray(refined, np.float32).reshape(12, 3), gt))
    return res


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Kept-right share, mean IoU, recall of the labelled person, heel/toe on the shoe (pose; refined)."""
    scored = [r for r in rows if "left_out" not in r]
    kept = [r for r in scored if r.get("kept")]
    ious = np.asarray([r["iou"] for r in kept], np.float32)
    pose_on = sum(r["points_pose"][0] for r in kept)
    pose_n = sum(r["points_pose"][1] for r in kept)
    ref = [r for r in kept if "points_refined" in r]
    out = {"photos": len(scored), "kept": len(kept), "recall": round(len(kept) / max(len(scored), 1), 4),
           "right": int((ious >= 0.5).sum()), "kept_right": round(float((ious >= 0.5).mean()), 4) if len(ious) else None,
           "mean_iou": round(float(ious.mean()), 4) if len(ious) else None,
           "points_on_shoe_pose": round(pose_on / max(pose_n, 1), 4),
           "points_on_shoe_refined": (round(sum(r["points_refined"][0] for r in ref) / max(sum(r["points_refined"][1] for r in ref), 1), 4)
                                      if ref else None),
           "records_other_persons": sum(r.get("records_other_persons", 0) for r in scored),
           "failed": sum(1 for r in scored if r.get("failed"))}  # an error in a stage, not a judgement: a bug to fix
    return out


def measure_ccp(cfg: Any, models: tuple, fixtures: Path, split: str = "test", poses: dict[str, Any] | None = None,
                limit: int = 0) -> dict[str, Any]:
    """Every CCP number of one split: overall, per footwear type, the photos left out and the misses."""
    from shoemodel.training.shoe_prior import ccp

    root = ccp_root(fixtures)
    ids = ccp.load_split(SPLIT, split)
    if limit:
        ids = ids[:limit]
    t0 = time.perf_counter()
    rows = [run_photo(i, root, models, cfg, poses) for i in ids]
    seconds = time.perf_counter() - t0
    types = sorted({r["type"] for r in rows if r.get("type")})
    return {"split": split, "pose": "cached" if poses is not None else "run", "overall": summarize(rows),
            "per_type": {t: summarize([r for r in rows if r.get("type") == t]) for t in types},
            "left_out": {r["id"]: r["left_out"] for r in rows if "left_out" in r},
            "not_kept": {r["id"]: r.get("reason") for r in rows if "left_out" not in r and not r.get("kept")},
            "seconds": round(seconds, 1), "photos_per_second": round(len(rows) / max(seconds, 1e-9), 2), "rows": rows}


def ccp_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: one column per run."""
    rows = [("photos scored (left out: no footwear)", lambda c: f"{c['overall']['photos']} ({len(c['left_out'])})"),
            ("labelled person kept (recall)", lambda c: f"{c['overall']['kept']} ({c['overall']['recall']})"),
            ("kept masks right (IoU >= 0.5)", lambda c: f"{c['overall']['right']} ({c['overall']['kept_right']})"),
            ("mean IoU of kept masks", lambda c: str(c["overall"]["mean_iou"])),
            ("heel/toe on the shoe: pose", lambda c: str(c["overall"]["points_on_shoe_pose"])),
            ("heel/toe on the shoe: refined", lambda c: str(c["overall"]["points_on_shoe_refined"])),
            ("records of other persons", lambda c: str(c["overall"]["records_other_persons"])),
            ("photos failed (an error in a stage)", lambda c: str(c["overall"].get("failed", "-"))),
            ("photos/s (pose " + "/".join(sorted({r['ccp']['pose'] for r in runs})) + ")", lambda c: str(c["photos_per_second"]))]
    head = "| measure | " + " | ".join(r["label"] for r in runs) + " |\n|---|" + "---|" * len(runs) + "\n"
    return head + "".join(f"| {name} | " + " | ".join(fn(r["ccp"]) for r in runs) + " |\n" for name, fn in rows)


def type_table(run: dict[str, Any]) -> str:
    c = run["ccp"]
    head = "| footwear | photos | kept (recall) | right (share) | mean IoU | heel/toe on shoe: pose / refined |\n|---|---|---|---|---|---|\n"
    return head + "".join(
        f"| {t} | {s['photos']} | {s['kept']} ({s['recall']}) | {s['right']} ({s['kept_right']}) | {s['mean_iou']} | "
        f"{s['points_on_shoe_pose']} / {s['points_on_shoe_refined']} |\n" for t, s in c["per_type"].items())


THRESHOLDS = (0.0, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)


def ranking(ccp_run: dict[str, Any], thresholds: tuple[float, ...] = THRESHOLDS) -> dict[str, Any]:
    """Does the quality score rank the labelled person's masks? Spearman between quality and (IoU >= 0.5) over the
    kept masks (run with min_quality 0), and per threshold t what keeping quality >= t would give: the share of
    kept masks that are right, recall of the labelled person, mean IoU."""
    from scipy.stats import spearmanr

    rows = [r for r in ccp_run["rows"] if "left_out" not in r]
    kept = [r for r in rows if r.get("kept") and r.get("quality") is not None]
    q = np.asarray([r["quality"] for r in kept], np.float64)
    right = np.asarray([r["iou"] >= 0.5 for r in kept], np.float64)
    iou = np.asarray([r["iou"] for r in kept], np.float64)
    rho = float(spearmanr(q, right).statistic) if len(kept) > 2 else None
    rho_iou = float(spearmanr(q, iou).statistic) if len(kept) > 2 else None
    parts: dict[str, float] = {}
    names = sorted({k for r in kept for f in r.get("quality_parts") or [] if f for k in f})
    for name in names:
        v = np.asarray([np.mean([f[name] for f in r["quality_parts"] if f and name in f] or [np.nan]) for r in kept])
        ok = ~np.isnan(v)
        if ok.sum() > 2:
            parts[name] = round(float(spearmanr(v[ok], right[ok]).statistic), 4)
    table = []
    for t in thresholds:
        sel = q >= t
        table.append({"min_quality": t, "kept": int(sel.sum()), "recall": round(float(sel.sum()) / max(len(rows), 1), 4),
                      "kept_right": round(float(right[sel].mean()), 4) if sel.any() else None,
                      "mean_iou": round(float(iou[sel].mean()), 4) if sel.any() else None})
    return {"spearman_quality_right": None if rho is None else round(rho, 4),
            "spearman_quality_iou": None if rho_iou is None else round(rho_iou, 4),
            "spearman_parts_right": parts, "thresholds": table}


def ranking_table(rank: dict[str, Any]) -> str:
    head = ("| min_quality | kept | recall | kept right | mean IoU |\n|---|---|---|---|---|\n")
    return head + "".join(f"| {r['min_quality']} | {r['kept']} | {r['recall']} | {r['kept_right']} | {r['mean_iou']} |\n"
                          for r in rank["thresholds"])
