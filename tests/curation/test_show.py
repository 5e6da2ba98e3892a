"""`shoemodel curate show`: a contact sheet of a real run's kept and dropped photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from shoemodel.cli import app


@pytest.mark.fixtures
def test_curate_show_draws_kept_and_dropped_photos(fixtures_dir: Path, yolox_weights: Path, photo_config,
                                                    mediapipe_installed, tmp_path: Path) -> None:
    from shoemodel.curation.pipeline import run_all
    from shoemodel.curation.show import collect, draw_tile

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("bus.jpg", "zidane.jpg"):  # shoes in view / cut off at the waist
        shutil.copy(fixtures_dir / "images" / "ultralytics_samples" / name, photos / name)
    cfg = photo_config(tmp_path / "set.work", [str(photos)], yolox_weights)
    cfg.gpu_resources = {}
    run_all(cfg, tmp_path / "set")
    tiles = {Path(t.source_uri).name: t for t in collect(tmp_path / "set.work")}
    assert tiles["bus.jpg"].kept and tiles["bus.jpg"].persons and tiles["bus.jpg"].persons[0]["mask"] is not None
    assert not tiles["zidane.jpg"].kept and tiles["zidane.jpg"].reason
    # its persons dropped at detect or pose are drawn with their reason (from the ledger)
    assert tiles["zidane.jpg"].dropped and all(d["reason"] and d["stage"] in ("detect", "pose") for d in tiles["zidane.jpg"].dropped)
    res = CliRunner().invoke(app, ["curate", "show", str(tmp_path / "set"), "--n", "32"])
    assert res.exit_code == 0, res.output
    assert "1 kept + 1 dropped" in res.output
    sheet = np.asarray(Image.open(tmp_path / "set.show.png").convert("RGB"))
    tile = draw_tile(tiles["bus.jpg"])
    assert sheet.shape == (tile.shape[0], 2 * tile.shape[1], 3)
    green = (tile[..., 1] > 200) & (tile[..., 0] < 40) & (tile[..., 2] < 40)  # the mask outline is drawn
    assert green.sum() > 20
    empty = draw_tile(tiles["bus.jpg"].__class__(**{**tiles["bus.jpg"].__dict__, "persons": []}))
    assert not np.array_equal(empty, tile)
    summary = json.loads((tmp_path / "set.work" / "segment" / "summary.json").read_text())
    assert summary["kept"] == 1


def test_curate_show_names_a_missing_run(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["curate", "show", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "no curation stage tables" in res.output
