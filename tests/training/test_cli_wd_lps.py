"""The `train` / `evaluate` commands read their params.yaml section, accept --set, and write DVC metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner


def test_train_and_evaluate_lps_diffusion_from_params(shoe_leg_set, tmp_path):
    from shoemodel.cli import app

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"train": {"lps_diffusion": {
        "train_set": str(shoe_leg_set), "output_dir": str(tmp_path / "models"), "metrics_dir": str(tmp_path / "metrics"),
        "hidden_size": 32, "num_blocks": 1, "time_embed_dim": 16, "steps": 5, "batch_size": 8, "warmup_steps": 1,
        "mixed_precision": "no", "num_workers": 0, "eval_samples": 2}}}))
    runner = CliRunner()
    r = runner.invoke(app, ["train", "lps-diffusion", "--params", str(params), "--set", "train.lps_diffusion.steps=6",
                            "--set", "progress=false", "--set", "learning_rate=2e-3"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "metrics" / "train.json").read_text())["steps"] == 6
    cfg = json.loads((tmp_path / "models" / "config.json").read_text())["train_config"]
    assert cfg["learning_rate"] == 2e-3 and cfg["steps"] == 6
    r = runner.invoke(app, ["evaluate", "lps-diffusion", "--params", str(params)])
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "metrics" / "eval.json").read_text())
    assert {"generated", "random", "mean_pose", "real_poses_reference"} <= set(report)
    assert 0.0 <= report["generated"]["ankle_agreement"] <= 1.0


def test_unknown_override_key_is_rejected(tmp_path):
    from shoemodel.cli import app

    params = tmp_path / "params.yaml"
    params.write_text("train: {wd: {}}\n")
    for key in ("stepz", "train.wd.stepz"):
        r = CliRunner().invoke(app, ["train", "wd", "--params", str(params), "--set", f"{key}=3"])
        assert r.exit_code == 2 and isinstance(r.exception, SystemExit), r.output
        assert "train.wd: unknown key(s) ['stepz']; did you mean 'steps'?" in r.output and "Traceback" not in r.output


def test_train_sw_reads_its_section_like_the_others(tmp_path, monkeypatch):
    """`train sw` builds SWConfig from train.sw + --set (paths against the file's folder) and hands it to train_sw."""
    import shoemodel.training.sw.train as sw_train
    from shoemodel.cli import app

    seen = {}
    monkeypatch.setattr(sw_train, "train_sw", lambda cfg, *a, **k: seen.setdefault("cfg", cfg) and {"steps": cfg.steps})
    params = tmp_path / "params.yaml"
    params.write_text("train: {sw: {output_dir: out/sw}}\n")
    r = CliRunner().invoke(app, ["--set", "train.sw.steps=3", "train", "sw", "--params", str(params), "--set", "seed=5"])
    assert r.exit_code == 0, r.output
    cfg = seen["cfg"]
    assert cfg.steps == 3 and cfg.seed == 5 and cfg.output_dir == str(tmp_path / "out" / "sw")


def test_torchvision_fallback_nms_matches_greedy_nms():
    from shoemodel.compat.torchvision import _nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 9, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    assert _nms(boxes, scores, 0.5).tolist() == [3, 2]


@pytest.mark.slow  # 15-45 s: two `shoemodel train` processes (torch imports)
def test_the_same_config_trains_the_same_files_in_another_folder(shoe_leg_set, tmp_path, monkeypatch):
    """What dvc.lock hashes (the model folder with its training state, train.json) is byte-identical when a fresh
    clone trains again: torch is deterministic on this CPU, and times go to timing.json, which DVC does not track."""
    import hashlib
    import os
    import subprocess
    import sys

    built = []
    for folder in (tmp_path / "clone", tmp_path / "another clone"):
        folder.mkdir()
        monkeypatch.chdir(folder)
        Path("params.yaml").write_text(yaml.safe_dump({"train": {"lps_diffusion": {
            "train_set": str(shoe_leg_set), "output_dir": "models", "metrics_dir": "metrics", "hidden_size": 32,
            "num_blocks": 1, "time_embed_dim": 16, "steps": 4, "batch_size": 8, "warmup_steps": 1,
            "mixed_precision": "no", "num_workers": 0, "progress": False}}}))
        r = subprocess.run([sys.executable, "-m", "shoemodel.cli", "train", "lps-diffusion"], capture_output=True,
                           text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
        assert r.returncode == 0, r.stderr[-2000:]  # a process each, as `dvc repro` runs them (own global RNG states)
        assert json.loads(Path("metrics/timing.json").read_text())["seconds"] >= 0
        built.append({str(p): hashlib.md5(p.read_bytes()).hexdigest()
                      for p in sorted([*Path("models").rglob("*"), Path("metrics/train.json")]) if p.is_file()})
    assert built[0] == built[1]
