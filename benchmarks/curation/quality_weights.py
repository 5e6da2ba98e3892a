"""Choose the quality score's part weights (shoemodel.curation.mask_quality.WEIGHTS) on the CCP val split.

Reads a val run of quality.py made with `--set segment.min_quality=0` (every kept mask has its quality parts),
tries every weight in {0, 1, 2, 4} per part (not all zero), recombines each kept mask's parts as the pipeline does
(mask_quality.combine per foot, mean over the feet) and ranks the weightings by Spearman between quality and
IoU >= 0.5. Never run it on test: test only reports what val chose.
Run:  python benchmarks/curation/quality_weights.py [--label LABEL] [--top 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PARTS = ("prior_iou", "prior_sure", "point_conf", "points_in_mask", "qc")
LEVELS = (0.0, 1.0, 2.0, 4.0)


def kept_rows(label: str | None) -> list[dict]:
    runs = json.loads((HERE / "quality_ccp_val.json").read_text())["runs"]
    run = next((r for r in runs if label is None or r["label"] == label), None) if label else runs[-1]
    if run is None:
        raise SystemExit(f"quality_ccp_val.json: no run labelled {label!r}")
    return [r for r in run["ccp"]["rows"] if r.get("kept") and r.get("quality_parts")]


def score(parts: list[dict], weights: dict[str, float]) -> float:
    per_foot = []
    for f in parts:
        used = {k: v for k, v in (f or {}).items() if weights.get(k)}
        total = sum(weights[k] for k in used)
        per_foot.append(sum(weights[k] * float(np.clip(v, 0, 1)) for k, v in used.items()) / total if total else 0.0)
    return float(np.mean(per_foot)) if per_foot else 0.0


def main() -> None:
    from scipy.stats import spearmanr

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default=None, help="the val run to read (default: the newest)")
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args()
    rows = kept_rows(args.label)
    right = np.asarray([r["iou"] >= 0.5 for r in rows], np.float64)
    results = []
    for levels in itertools.product(LEVELS, repeat=len(PARTS)):
        if not any(levels):
            continue
        w = dict(zip(PARTS, levels))
        q = np.asarray([score(r["quality_parts"], w) for r in rows])
        results.append((float(spearmanr(q, right).statistic), w))
    results.sort(key=lambda t: -t[0])
    print(f"{len(rows)} kept masks; best weightings by Spearman(quality, IoU >= 0.5):")
    for rho, w in results[: args.top]:
        print(f"  {rho:.4f}  {w}")


if __name__ == "__main__":
    main()
