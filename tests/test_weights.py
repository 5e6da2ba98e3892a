"""One resolver and one error for every checkpoint: the path, then $SHOEMODEL_WEIGHTS, else a named error."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoemodel.models.weights import WEIGHTS_ENV, WeightsNotFound, require_weights


def test_a_path_that_exists_is_used_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "sam_vit_b_01ec64.pth"
    f.write_bytes(b"x")
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    assert require_weights(f, "SAM") == f


def test_weights_folder_by_relative_path_and_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ckpts"
    (root / "sam").mkdir(parents=True)
    (root / "sam" / "sam_vit_b_01ec64.pth").write_bytes(b"x")
    (root / "yolox_nano.onnx").write_bytes(b"y")
    monkeypatch.setenv(WEIGHTS_ENV, str(root))
    monkeypatch.chdir(tmp_path)
    assert require_weights("sam/sam_vit_b_01ec64.pth", "SAM") == root / "sam" / "sam_vit_b_01ec64.pth"
    # a params file elsewhere made the path absolute: the file is still found by its name
    assert require_weights(tmp_path / "project" / "models" / "yolox_nano.onnx", "YOLOX") == root / "yolox_nano.onnx"


def test_missing_weights_name_the_model_every_place_and_the_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "ckpts"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsNotFound) as err:
        require_weights("models/none.pth", "SAM (segment-anything)", "download sam_vit_b_01ec64.pth")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("SAM (segment-anything) not found at 'models/none.pth'")
    assert str(tmp_path / "ckpts" / "models" / "none.pth") in msg and str(tmp_path / "ckpts" / "none.pth") in msg
    assert msg.endswith("download sam_vit_b_01ec64.pth")
    with pytest.raises(WeightsNotFound, match=r"\(no path set\)"):
        require_weights("", "YOLOX detector")


def _weights_cli(*args: str):
    from typer.testing import CliRunner

    from shoemodel.cli import app

    return CliRunner().invoke(app, ["weights", *map(str, args)])


def test_weights_command_lists_each_checkpoint_with_size_and_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Present files get their size and full SHA-256; missing ones the official name; --check names the missing one."""
    import hashlib

    import yaml

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w").mkdir()
    onnx = tmp_path / "w" / "rtmw-x.onnx"
    onnx.write_bytes(b"\x08\x07" * 1000)
    (tmp_path / "w" / "sam2").mkdir()
    (tmp_path / "w" / "sam2" / "config.json").write_text("{}")
    params = {"curation": {"detect": {"backend": "full_frame"}, "pose": {"backend": "onnx_wholebody", "weights": "w/rtmw-x.onnx"},
                           "segment": {"backend": "hf_sam", "weights": "w/sam2"}},
              "train": {"sw": {"base_model": "w/stable-diffusion-v1-5"}},
              "benchmark": {"features": "tiny-random", "clip": "tiny-random", "methods": ["ShoeModel (ours)"]}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    res = _weights_cli("--params", tmp_path / "params.yaml")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "curation.pose.weights" in out and hashlib.sha256(onnx.read_bytes()).hexdigest() in out and "2.0 KB" in out
    assert "curation.segment.weights" in out and "sam2.1-hiera-tiny" in out
    line = next(x for x in out.splitlines() if x.startswith("train.sw.base_model"))
    assert "required" in line and "MISSING" in line and "stable-diffusion-v1-5" in out
    assert "benchmark.sd15" not in out  # its method is not in benchmark.methods
    res = _weights_cli("--params", tmp_path / "params.yaml", "--check")
    assert res.exit_code == 1 and "missing required checkpoint(s): train.sw.base_model" in res.output
    res = _weights_cli("--params", tmp_path / "params.yaml", "--check", "--set", "train.sw.base_model=tiny")
    assert res.exit_code == 0, res.output
    res = _weights_cli("--params", tmp_path / "params.yaml", "--check", "--set", "curation.segment.backend=sam")
    assert res.exit_code == 1 and "curation.segment.weights" in res.output and "sam_vit_h_4b8939.pth" in res.output


def test_curate_run_names_a_missing_checkpoint_before_any_stage_runs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shoemodel.cli import app

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(b"")
    res = CliRunner().invoke(app, ["curate", "run", str(tmp_path / "photos"), "--out", str(tmp_path / "set"), "--quiet",
                                   "--set", "curation.detect.backend=full_frame",
                                   "--set", "curation.pose.backend=onnx_wholebody", "--set", f"curation.pose.weights={tmp_path / 'rtmw.onnx'}"])
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "rtmw.onnx" in lines[0] and lines[0].startswith("error: ")
    assert not (tmp_path / "set.work").exists()  # nothing ran: not even ingest
