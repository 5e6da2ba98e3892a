"""Every plot of the project, from the files the stages write, each with the chart kind its data calls for.

- loss curves (lines): `<metrics>/<model>/train_log.csv` of each trainer;
- set statistics: per-record histograms by split (`<plots>/sets/<set>.csv`: shoe-area fraction, visible
  keypoints, class pixel fractions) and bars (`<metrics>/sets/<set>.json`: records per split, keypoint
  visibility, class pixel fractions in the classes' own colours);
- Table 5 (WD, `<metrics>/wd/eval.json`): per-class IoU bars, one bar per method;
- LpS phase 1 (`<metrics>/lps_keypoints/eval.json`): per-keypoint error bars;
- the annotation loop (`<metrics>/annotation/loop.json`, else params `plots.loop`, {"rounds": [{"round": 1, "wearable_iou": ..., "miou": ...}]}):
  WD quality round over round.

A source that is absent is skipped and said so; a malformed one is a one-line error naming the file.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from shoemodel.plots import charts
from shoemodel.plots.config import PlotsConfig
from shoemodel.schemas.classes import CLASS_HEX, CLASS_NAMES

#: The trainers whose logs are drawn, as (folder under metrics/, title).
TRAINERS = (("wd", "WD (Segformer)"), ("lps_keypoints", "LpS phase 1 (foot keypoints)"),
            ("lps_diffusion", "LpS phase 2 (leg-pose diffusion)"), ("sw", "SW (ShoeControlNet)"))
SETS = ("shoe_leg", "wearable_area")


class PlotSourceError(ValueError):
    """A metrics or plot-data file that cannot be read as the plot needs it."""


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PlotSourceError(f"{path}: not JSON ({exc})") from None


def _csv(path: Path, needed: tuple[str, ...]) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in needed if rows and c not in rows[0]]
    if missing:
        raise PlotSourceError(f"{path}: no column(s) {missing}")
    return rows


def _float(path: Path, row: dict[str, str], key: str) -> float:
    try:
        return float(row[key])
    except (TypeError, ValueError):
        raise PlotSourceError(f"{path}: {key}={row.get(key)!r} is not a number") from None


def loss_curves(cfg: PlotsConfig) -> list[Path]:
    """One line chart per trainer log: loss against step (log scale when it spans decades)."""
    out = []
    for name, title in TRAINERS:
        path = Path(cfg.metrics_dir) / name / "train_log.csv"
        if not path.is_file():
            continue
        rows = _csv(path, ("step", "loss"))
        x = [_float(path, r, "step") for r in rows]
        y = [_float(path, r, "loss") for r in rows]
        out.append(charts.lines(Path(cfg.out) / f"loss_{name}.png", {"loss": (x, y)}, f"{title}: training loss",
                                "step", "loss", dpi=cfg.dpi, logy=bool(y) and max(y) > 20 * max(min(y), 1e-12)))
    return out


def set_statistics(cfg: PlotsConfig) -> list[Path]:
    """Histograms of the per-record values by split, and bars of the set's counts and fractions."""
    out = []
    for set_name in SETS:
        rows_path = Path(cfg.plots_dir) / "sets" / f"{set_name}.csv"
        if rows_path.is_file():
            rows = _csv(rows_path, ("split",))
            columns = [c for c in (rows[0] if rows else {}) if c not in ("id", "split")]
            for col in columns:
                by_split: dict[str, list[float]] = defaultdict(list)
                for r in rows:
                    by_split[r["split"]].append(_float(rows_path, r, col))
                discrete = col == "visible_keypoints"
                bins = [b - 0.5 for b in range(0, 14)] if discrete else 20
                out.append(charts.histograms(Path(cfg.out) / f"{set_name}_{col}.png", dict(sorted(by_split.items())),
                                             f"{set_name}: {col.replace('_', ' ')} per record", col.replace("_", " "),
                                             bins, cfg.dpi))
        metrics_path = Path(cfg.metrics_dir) / "sets" / f"{set_name}.json"
        if not metrics_path.is_file():
            continue
        m = _json(metrics_path)
        if m.get("splits"):
            out.append(charts.bars(Path(cfg.out) / f"{set_name}_splits.png", {"records": m["splits"]},
                                   f"{set_name}: records per split", "records", dpi=cfg.dpi))
        if m.get("keypoint_visibility"):
            out.append(charts.bars(Path(cfg.out) / f"{set_name}_keypoint_visibility.png",
                                   {"visible": m["keypoint_visibility"]}, f"{set_name}: fraction of records "
                                   "where each keypoint is visible", "fraction", dpi=cfg.dpi, ylim=(0, 1),
                                   horizontal=True))
        if m.get("class_pixel_fraction"):
            fractions = {c: m["class_pixel_fraction"][c] for c in CLASS_NAMES if c in m["class_pixel_fraction"]}
            out.append(charts.bars(Path(cfg.out) / f"{set_name}_class_pixels.png", {"pixels": fractions},
                                   f"{set_name}: pixel fraction per class", "fraction of pixels",
                                   colors=dict(zip(CLASS_NAMES, CLASS_HEX)), dpi=cfg.dpi))
    return out


def _per_class(section: dict[str, Any], suffix: str) -> dict[str, float]:
    return {c: float(section[f"{c}/{suffix}"]) for c in CLASS_NAMES if f"{c}/{suffix}" in section}


def evaluations(cfg: PlotsConfig) -> list[Path]:
    """Table 5 (WD per-class IoU per method) and LpS phase 1's per-keypoint error, as grouped bars."""
    out = []
    wd = Path(cfg.metrics_dir) / "wd" / "eval.json"
    if wd.is_file():
        e = _json(wd)
        groups = {method: {**_per_class(v, "IoU"), **({"mIoU": float(v["mIoU"])} if "mIoU" in v else {})}
                  for method, v in e.items() if isinstance(v, dict) and _per_class(v, "IoU")}
        if groups:
            out.append(charts.bars(Path(cfg.out) / "table5_wd_iou.png", groups, "Table 5: WD IoU per class",
                                   "IoU (%)", dpi=cfg.dpi, ylim=(0, 100)))
    kp = Path(cfg.metrics_dir) / "lps_keypoints" / "eval.json"
    if kp.is_file():
        e = _json(kp)
        groups = {method: {k.removeprefix("error/"): float(x) for k, x in v.items() if k.startswith("error/")}
                  for method, v in e.items() if isinstance(v, dict)}
        groups = {k: v for k, v in groups.items() if v}
        if groups:
            out.append(charts.bars(Path(cfg.out) / "lps_keypoints_error.png", groups,
                                   "LpS phase 1: keypoint error per point", "error (px)", dpi=cfg.dpi,
                                   horizontal=True))
    return out


def annotation_rounds(cfg: PlotsConfig) -> list[Path]:
    """WD quality after each annotation round (wearable IoU and mIoU against the round)."""
    path = Path(cfg.metrics_dir) / "annotation" / "loop.json"  # a fresh run of the loop wins over the committed one
    if not path.is_file():
        path = Path(cfg.loop)
    if not path.is_file():
        return []
    rounds = _json(path).get("rounds")
    if not isinstance(rounds, list) or not all(isinstance(r, dict) and "round" in r for r in rounds):
        raise PlotSourceError(f"{path}: expected {{\"rounds\": [{{\"round\": 1, \"wearable_iou\": ..., ...}}, ...]}}")
    rounds = sorted(rounds, key=lambda r: r["round"])
    series = {}
    for key in ("wearable_iou", "miou"):
        pts = [(float(r["round"]), float(r[key])) for r in rounds if isinstance(r.get(key), (int, float))]
        if pts:
            series[key.replace("_", " ").replace("miou", "mIoU").replace("iou", "IoU")] = tuple(map(list, zip(*pts)))
    if not series:
        return []
    return [charts.lines(Path(cfg.out) / "annotation_rounds.png", series, "WD after each annotation round",
                         "round", "IoU", dpi=cfg.dpi, markers=True)]


def render_all(cfg: PlotsConfig) -> list[Path]:
    """Draw every plot whose source exists; returns the PNGs written (old PNGs of absent sources are removed)."""
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    written = [*loss_curves(cfg), *set_statistics(cfg), *evaluations(cfg), *annotation_rounds(cfg)]
    for stale in set(Path(cfg.out).glob("*.png")) - set(written):
        stale.unlink()
    return written
