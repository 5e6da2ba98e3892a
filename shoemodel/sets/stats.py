"""Dataset statistics of a shard set: DVC metrics (JSON) and plot data (CSV), streamed shard by shard."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.schemas.classes import CLASS_NAMES, NUM_CLASSES
from shoemodel.schemas.keypoints import KEYPOINT_NAMES, NUM_KEYPOINTS
from shoemodel.schemas.records import decode_image, keypoints_array
from shoemodel.store.atomic import atomic_write_text
from shoemodel.store.manifest import read_manifest
from shoemodel.store.reader import iter_records


def set_statistics(root: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (metrics, per-record rows) for the set at `root`."""
    manifest = read_manifest(root)
    splits: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    metrics: dict[str, Any] = {"num_records": manifest.num_records,
                               "num_failures": manifest.num_failures, "num_shards": len(manifest.shards)}
    if manifest.set_name == "shoe_leg":
        visible = np.zeros(NUM_KEYPOINTS)
        both_feet = 0
        for rec in iter_records(root, columns=["id", "split", "keypoints", "shoe_mask", "width", "height"]):
            splits[rec["split"]] += 1
            k = keypoints_array(rec)
            vis = k[:, 2] > 0
            visible += vis
            both_feet += bool(vis[[4, 6, 7, 8]].all() and vis[[5, 9, 10, 11]].all())
            area = float((decode_image(rec["shoe_mask"], None) > 0).mean())
            rows.append({"id": rec["id"], "split": rec["split"], "shoe_area_fraction": round(area, 5), "visible_keypoints": int(vis.sum())})
        n = max(manifest.num_records, 1)
        metrics["keypoint_visibility"] = {name: round(float(v / n), 4) for name, v in zip(KEYPOINT_NAMES, visible)}
        metrics["both_feet_fraction"] = round(both_feet / n, 4)
    else:
        pixels = np.zeros(NUM_CLASSES)
        for rec in iter_records(root, columns=["id", "split", "area_mask"]):
            splits[rec["split"]] += 1
            m = decode_image(rec["area_mask"], None)
            counts = np.bincount(m.reshape(-1), minlength=NUM_CLASSES)[:NUM_CLASSES]
            pixels += counts
            frac = counts / max(m.size, 1)
            rows.append({"id": rec["id"], "split": rec["split"],
                         **{f"{name}_fraction": round(float(f), 5) for name, f in zip(CLASS_NAMES, frac)}})
        total = max(pixels.sum(), 1)
        metrics["class_pixel_fraction"] = {name: round(float(p / total), 5) for name, p in zip(CLASS_NAMES, pixels)}
    metrics["splits"] = dict(sorted(splits.items()))
    metrics["failures_by_reason"] = manifest.failures_by_reason
    return metrics, rows


def write_statistics(root: str | Path, metrics_path: str | Path, plot_path: str | Path) -> dict[str, Any]:
    """Compute statistics and write the metrics JSON (numbers only; the file is named after the set) and the
    per-record plot CSV (one row per record: its split and its values; `shoemodel plots` draws their
    histograms by split) atomically."""
    metrics, rows = set_statistics(root)
    atomic_write_text(metrics_path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    Path(plot_path).parent.mkdir(parents=True, exist_ok=True)
    fields = list(rows[0]) if rows else ["id", "split"]
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(plot_path, buf.getvalue())
    return metrics
