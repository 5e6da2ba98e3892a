"""`dvc repro` of the foundation stages: runs, is idempotent, and a param change reruns only its dependents."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

FOUNDATION_STAGES = ("sample", "build_set", "stats")


def _run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=True)


@pytest.mark.slow  # ~25 s: a real dvc repro of a small pipeline, twice
@pytest.mark.server
def test_dvc_repro_idempotent_and_param_scoped(repo_root, tmp_path):
    if shutil.which("dvc") is None or shutil.which("shoemodel") is None:
        pytest.skip("dvc or the shoemodel command is not on PATH")
    proj = tmp_path / "proj"
    proj.mkdir()
    pipeline = yaml.safe_load((repo_root / "dvc.yaml").read_text())
    pipeline["stages"] = {k: v for k, v in pipeline["stages"].items() if k in FOUNDATION_STAGES}
    (proj / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["sample"].update(n_shoe_leg=24, n_wearable_area=16, size=96)
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copytree(repo_root / "shoemodel", proj / "shoemodel", ignore=shutil.ignore_patterns("__pycache__"))
    _run(["git", "init", "-q"], proj)
    _run(["dvc", "init", "-q"], proj)
    _run(["dvc", "config", "core.analytics", "false"], proj)

    first = _run(["dvc", "repro"], proj).stdout
    assert "Running stage 'sample'" in first and "Running stage 'stats@wearable_area'" in first
    assert (proj / "metrics" / "sets" / "shoe_leg.json").exists()

    second = _run(["dvc", "repro"], proj).stdout
    assert "Running stage" not in second

    params["sets"]["records_per_shard"] = 5
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    third = _run(["dvc", "repro"], proj).stdout
    assert "Running stage 'sample'" not in third
    assert "Running stage 'build_set@shoe_leg'" in third and "Running stage 'build_set@wearable_area'" in third
