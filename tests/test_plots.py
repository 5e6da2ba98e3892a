"""`shoemodel plots`: every plot drawn to PNG offline, with the chart its data calls for."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from shoemodel.cli import app
from shoemodel.schemas.classes import CLASS_COLORS


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The files the stages write, small: a training log, set statistics, WD evaluation, annotation rounds."""
    m, p = tmp_path / "metrics", tmp_path / "plots"
    _write_csv(m / "wd" / "train_log.csv", [{"step": s, "loss": 1 / s, "lr": 1e-3} for s in range(1, 30)])
    rng = np.random.default_rng(0)
    _write_csv(p / "sets" / "wearable_area.csv",
               [{"id": f"r{i}", "split": ["train", "val", "test"][i % 3], "background_fraction": 0.8,
                 "visible_fraction": float(rng.uniform(0.1, 0.2)), "wearable_fraction": 0.01} for i in range(30)])
    (m / "sets").mkdir(parents=True)
    (m / "sets" / "wearable_area.json").write_text(json.dumps(
        {"num_records": 30, "splits": {"test": 10, "train": 10, "val": 10},
         "class_pixel_fraction": {"background": 0.6, "visible": 0.3, "wearable": 0.1}}))
    (m / "wd" / "eval.json").write_text(json.dumps(
        {"trained": {"background/IoU": 90, "visible/IoU": 80, "wearable/IoU": 40, "mIoU": 70},
         "untrained": {"background/IoU": 50, "visible/IoU": 10, "wearable/IoU": 1, "mIoU": 20}}))
    (m / "annotation").mkdir()
    (m / "annotation" / "loop.json").write_text(json.dumps(
        {"rounds": [{"round": 2, "wearable_iou": 35.0, "miou": 65.0}, {"round": 1, "wearable_iou": 30.0, "miou": 60.0}]}))
    (tmp_path / "params.yaml").write_text("plots: {out: png, dpi: 50}\n")
    return tmp_path


def _run(project: Path, *extra: str):
    return CliRunner().invoke(app, ["plots", "--params", str(project / "params.yaml"), *extra])


def test_plots_draws_each_source_with_its_chart(project: Path) -> None:
    r = _run(project)
    assert r.exit_code == 0, r.output
    names = sorted(f.name for f in (project / "png").glob("*.png"))
    assert names == ["annotation_rounds.png", "loss_wd.png", "table5_wd_iou.png", "wearable_area_background_fraction.png",
                     "wearable_area_class_pixels.png", "wearable_area_splits.png", "wearable_area_visible_fraction.png",
                     "wearable_area_wearable_fraction.png"]
    # class pixel fractions are drawn in the classes' own colours, bar heights in proportion
    px = np.asarray(Image.open(project / "png" / "wearable_area_class_pixels.png").convert("RGB")).reshape(-1, 3)
    counts = [int((np.abs(px.astype(int) - c).sum(1) < 30).sum()) for c in CLASS_COLORS]
    assert counts[0] > counts[1] > counts[2] > 50, counts  # 0.6 > 0.3 > 0.1 of the pixels (black also draws text)


def test_a_stale_png_goes_and_a_broken_source_is_one_line(project: Path) -> None:
    assert _run(project).exit_code == 0
    (project / "metrics" / "annotation" / "loop.json").unlink()
    assert _run(project).exit_code == 0
    assert not (project / "png" / "annotation_rounds.png").exists()
    (project / "metrics" / "wd" / "train_log.csv").write_text("step,loss\n1,abc\n")
    r = _run(project)
    assert r.exit_code == 2 and "train_log.csv" in r.output and "'abc'" in r.output, r.output


def test_nothing_to_plot_says_so(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["plots", "--set", f"plots.metrics_dir={tmp_path}/m", "--set",
                                 f"plots.plots_dir={tmp_path}/p", "--set", f"plots.loop={tmp_path}/none.json",
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "nothing to plot" in r.output
