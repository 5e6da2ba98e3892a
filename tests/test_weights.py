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
