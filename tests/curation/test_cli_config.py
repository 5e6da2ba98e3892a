"""CLI wiring, params.yaml section, the torchvision fallback, and the Dask resource guard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from shoemodel.cli import app
from shoemodel.config import load_section
from shoemodel.curation.config import CurationConfig


def test_curate_help_lists_every_stage() -> None:
    out = CliRunner().invoke(app, ["curate", "--help"])
    assert out.exit_code == 0
    for cmd in ("ingest", "detect", "pose", "segment", "build", "run"):
        assert cmd in out.output


def test_repo_params_curation_section_loads(repo_root: Path) -> None:
    cfg = load_section(CurationConfig, "curation", str(repo_root / "params.yaml"))
    assert cfg.pose.backend == "mediapipe" and cfg.segment.backend in ("sam", "hf_sam", "grabcut", "shoe_prior")
    with pytest.raises(ValueError, match="unknown key"):
        p = repo_root / "params.yaml"
        data = yaml.safe_load(p.read_text())
        data["curation"]["pose"]["min_pont_score"] = 0.3
        from shoemodel.config import from_dict

        from_dict(CurationConfig, data["curation"], "curation")


def test_cli_run_on_a_folder_without_people(tmp_path: Path, mediapipe_installed) -> None:
    """Nothing passes the filters -> every stage still succeeds and writes an empty set with a manifest."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(3):
        # distinct pictures (flat colours would be near duplicates of each other, which ingest drops by default)
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (6, 6, 3), dtype=np.uint8)).resize((64, 64)).save(raw / f"{i}.png")
    (raw / "broken.jpg").write_bytes(b"nope")
    params = {"curation": {"work_dir": str(tmp_path / "work"), "ingest": {"sources": [str(raw)], "part_size": 2},
                           "detect": {"backend": "full_frame"}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    metrics = tmp_path / "m.json"
    res = CliRunner().invoke(app, ["curate", "run", "--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "set"),
                                   "--quiet", "--metrics", str(metrics)])
    assert res.exit_code == 0, res.output
    s = json.loads(metrics.read_text())
    assert s["ingest"]["kept"] == 3 and s["ingest"]["dropped"] == {"not an image": 1}
    assert s["pose"]["kept"] == 0 and s["pose"]["dropped"] == {"no complete foot": 3}
    assert s["build"]["kept"] == 0
    assert json.loads((tmp_path / "set" / "manifest.json").read_text())["num_records"] == 0
    assert "pose" in res.output and "no complete foot 3" in res.output


def _project(root: Path, coco_dir: Path, yolox_weights: Path) -> Path:
    """A project folder whose params.yaml names its photos, weights and outputs by relative paths."""
    (root / "photos").mkdir(parents=True)
    for f in sorted(coco_dir.glob("*.jpg"))[:3]:
        shutil.copyfile(f, root / "photos" / f.name)
    (root / "weights").mkdir()
    (root / "weights" / "yolox_nano.onnx").symlink_to(yolox_weights)
    params = {"curation": {"work_dir": "work", "out": "set", "progress": False,
                           "ingest": {"sources": ["photos"], "optional_sources": [], "part_size": 2},
                           "detect": {"backend": "auto", "weights": "weights/yolox_nano.onnx"},
                           "build": {"records_per_shard": 2}}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root / "params.yaml"


def _built(set_dir: Path) -> list[tuple]:
    from shoemodel.store import iter_records

    recs = sorted(iter_records(set_dir), key=lambda r: r["id"])
    return [(r["id"], r["content_hash"], np.asarray(r["keypoints"]).round(3).tolist(),
             json.loads(r["provenance"])["detect"]["backend"]) for r in recs]


@pytest.mark.fixtures
def test_run_from_another_folder_reads_the_params_paths_against_the_params_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, coco_dir: Path, yolox_weights: Path, mediapipe_installed) -> None:
    """Relative weights / sources / work_dir / out in params.yaml mean the same files from any folder (no full_frame fallback)."""
    params = _project(tmp_path / "proj", coco_dir, yolox_weights)
    photos = str(params.parent / "photos")
    monkeypatch.chdir(params.parent)
    res = CliRunner().invoke(app, ["curate", "run", photos, "--params", str(params.resolve())])
    assert res.exit_code == 0, res.output
    assert (params.parent / "work" / "ingest").is_dir()  # work_dir and out from the file, read against its folder
    here = _built(params.parent / "set")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = CliRunner().invoke(app, ["curate", "run", photos, "--params", str(params.resolve()), "--out", "other/set"])
    assert res.exit_code == 0, res.output
    assert (elsewhere / "other" / "set.work" / "ingest").is_dir()  # --out alone moves the stage tables next to it
    assert not (elsewhere / "work").exists() and not (elsewhere / "data").exists()
    there = _built(elsewhere / "other" / "set")
    assert here == there and len(here) >= 1
    assert {r[3] for r in there} == {"yolox_onnx"}


def test_torchvision_fallback_nms_matches_reference() -> None:
    import torch

    from shoemodel.compat.torchvision import ensure_torchvision
    from shoemodel.curation.boxes import nms as np_nms

    ensure_torchvision()
    import torchvision

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(50, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + 10 + torch.rand(50, 2, generator=g) * 30], 1)
    scores = torch.rand(50, generator=g)
    got = torchvision.ops.nms(boxes, scores, 0.4).tolist()
    assert got == np_nms(boxes.numpy(), scores.numpy(), 0.4).tolist()
    assert 0 < len(got) < 50


@pytest.mark.server
def test_dask_without_gpu_workers_fails_fast_naming_the_resource() -> None:
    from shoemodel.curation.pipeline import check_resources, executor_config
    from shoemodel.parallel import ExecutorConfig, executor_from_config

    with executor_from_config(ExecutorConfig(kind="local", n_workers=1)) as ex:
        with pytest.raises(RuntimeError, match="GPU"):
            check_resources(ex, {"GPU": 1})
    cfg = CurationConfig(executor=ExecutorConfig(kind="local"))
    assert executor_config(cfg).worker_resources == {"GPU": 1}


def test_relative_sources_on_an_existing_cluster_are_warned(caplog) -> None:
    """Workers of a cluster started elsewhere read relative paths from their own folder: say so once."""
    import logging

    from shoemodel.curation.config import CurationConfig
    from shoemodel.curation.pipeline import relative_sources, warn_relative_sources

    cfg = CurationConfig()
    cfg.ingest.sources = ["photos/raw", "/abs/photos", "s3://bucket/photos"]
    assert relative_sources(cfg) == ["photos/raw"]
    with caplog.at_level(logging.WARNING, logger="shoemodel.curation.pipeline"):
        warn_relative_sources(cfg)  # inline: the driver reads them itself, nothing to say
        assert not caplog.records
        cfg.executor.kind = "address"
        warn_relative_sources(cfg)
    assert len(caplog.records) == 1 and "photos/raw" in caplog.records[0].getMessage()
