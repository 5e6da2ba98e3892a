"""A fresh clone's `dvc repro` leaves dvc.lock unchanged for the data stages: their outputs are byte-identical when
built from the same inputs in another folder, at another time (other mtimes), by another process.

The data stages' commands (sample, build-set, curate run, annotate build, merge-sets: what dvc.yaml runs) build the
pipeline twice, in two folders with different names; every output folder must hash the same file by file (DVC's
directory hash is made from these). Mtime-keyed caches and process notes live beside the outputs, not in them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from shoemodel.cli import app

#: The data stages' outputs (dvc.yaml outs), relative to the project folder.
OUTS = ("data/sample", "data/sets/shoe_leg", "data/sets/wearable_area", "data/curation/ingest", "data/curation/detect",
        "data/curation/pose", "data/curation/segment", "data/curation/shoe_leg", "data/sets/wearable_area_annotated",
        "data/sets/train/shoe_leg", "data/sets/train/wearable_area")


def _project(repo_root: Path, folder: Path) -> Path:
    """A small copy of the project's params (tiny sample, small shards) and annotation snapshot in `folder`."""
    folder.mkdir(parents=True)
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["sample"].update(n_shoe_leg=8, n_wearable_area=6, size=64)
    params["sets"]["records_per_shard"] = 4
    params["merge"]["records_per_shard"] = 4
    params["annotation"]["records_per_shard"] = 4
    cur = params["curation"]
    cur["progress"] = False
    cur["ingest"].update(optional_sources=[], part_size=4)
    cur["build"]["records_per_shard"] = 4
    cur["detect"]["weights"] = ""  # full-frame boxes: no weights needed, and every photo goes on to pose
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (folder / "annotation").mkdir()
    shutil.copy(repo_root / "annotation" / "tasks.jsonl", folder / "annotation" / "tasks.jsonl")
    return folder


def _run(*args: str) -> None:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, f"{args}: {r.output}"


def _build(folder: Path, monkeypatch: pytest.MonkeyPatch, sample_mtime: float | None = None) -> None:
    """dvc.yaml's commands, as `dvc repro` runs them: in the project folder, ./params.yaml, relative paths."""
    monkeypatch.chdir(folder)
    _run("sample")
    if sample_mtime is not None:  # a checkout writes the files at its own time
        for p in Path("data/sample").rglob("*"):
            os.utime(p, (sample_mtime, sample_mtime))
    for name in ("shoe_leg", "wearable_area"):
        _run("build-set", name, "--labels", f"data/sample/{name}", "--out", f"data/sets/{name}")
    _run("curate", "run", "--quiet", "--work-dir", "data/curation", "--out", "data/curation/shoe_leg")
    _run("annotate", "build")
    for name in ("shoe_leg", "wearable_area"):
        _run("merge-sets", name)


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_data_stages_are_byte_identical_in_another_folder(repo_root: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first = _project(repo_root, tmp_path / "clone")
    second = _project(repo_root, tmp_path / "fresh copy elsewhere")
    _build(first, monkeypatch)
    _build(second, monkeypatch, sample_mtime=1_000_000_000)
    for out in OUTS:
        a, b = _hashes(first / out), _hashes(second / out)
        assert a, f"{out} is empty"
        differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        assert not differ, f"{out}: {differ[:5]} differ between the two builds"
        assert not any(Path(k).name.startswith(".") for k in a), f"{out} holds a hidden cache file: {sorted(a)}"
