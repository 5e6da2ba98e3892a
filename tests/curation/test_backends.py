"""The backend registry: every entry builds from an importable function, and help, `shoemodel weights`,
provenance, the config types and the "unknown backend" error all come from it."""

from __future__ import annotations

import importlib
import inspect
import typing
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from shoemodel.cli import app
from shoemodel.config import ConfigTypeError, load_section
from shoemodel.config_fields import field_types
from shoemodel.curation import backends
from shoemodel.curation.config import CurationConfig, DetectConfig, PoseConfig, SegmentConfig

CONFIGS = {"detect": DetectConfig, "pose": PoseConfig, "segment": SegmentConfig}


@pytest.mark.parametrize("entry", backends.all_backends(), ids=lambda b: f"{b.stage}-{b.name}")
def test_every_builder_path_names_a_function_of_one_argument(entry: backends.Backend) -> None:
    """`module:function` exists (the module imports without its optional library) and takes the config section."""
    module, _, name = entry.builder.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    assert callable(fn), f"{entry.builder} is not a function"
    assert len(inspect.signature(fn).parameters) == 1
    assert entry.load() is fn
    assert entry.hint and entry.about and entry.stage in backends.STAGES
    for field, what in entry.files:
        assert field in field_types(CONFIGS[entry.stage]) and what


def test_each_stage_has_its_backends_and_config_types_come_from_the_registry() -> None:
    assert set(backends.names("detect")) == {"yolox_onnx", "ultralytics", "full_frame"}
    assert set(backends.names("pose")) == {"mediapipe", "onnx_wholebody", "vitpose", "mmpose"}
    assert set(backends.names("segment")) == {"sam", "hf_sam", "grabcut", "shoe_prior"}
    for stage, cls in CONFIGS.items():
        allowed = set(typing.get_args(field_types(cls)["backend"]))
        assert allowed == set(backends.names(stage)) | ({"auto"} if stage == "detect" else set())
        assert cls().backend in allowed


def test_modules_name_each_backend_module_once() -> None:
    assert "shoemodel.curation.segment_sam" in backends.modules("segment")
    assert len(backends.modules("segment")) == 3  # sam and hf_sam share one module; grabcut, shoe_prior
    assert set(backends.modules("pose")) == {b.module for b in backends.all_backends() if b.stage == "pose"}


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        backends.register(backends.get("pose", "mediapipe"))


def test_curate_help_names_every_backend() -> None:
    out = CliRunner().invoke(app, ["curate", "--help"], terminal_width=400)
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    for b in backends.all_backends():
        assert b.name in text, b.name
    assert "SAM shoe masks" not in text
    for stage in backends.STAGES:
        out = CliRunner().invoke(app, ["curate", stage, "--help"], terminal_width=400)
        assert out.exit_code == 0
        for name in backends.names(stage):
            assert name in " ".join(out.output.split()), (stage, name)


@pytest.mark.parametrize("entry", [b for b in backends.all_backends() if b.files], ids=lambda b: f"{b.stage}-{b.name}")
def test_shoemodel_weights_lists_every_file_of_every_backend(entry: backends.Backend, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOEMODEL_WEIGHTS", raising=False)
    section = {"backend": entry.name, **{field: f"w/{field}.bin" for field, _ in entry.files}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"curation": {entry.stage: section}}))
    out = CliRunner().invoke(app, ["weights", "--params", str(tmp_path / "params.yaml")], terminal_width=400)
    assert out.exit_code == 0, out.output
    for field, what in entry.files:
        line = next(x for x in out.output.splitlines() if x.startswith(f"curation.{entry.stage}.{field}"))
        assert "MISSING" in line and "required" in line  # a file that is named must be there
        assert what.split(" ")[0] in out.output
    if not entry.needs_weights:  # optional weights (a model .yaml builds random ones): listed as optional
        section["weights"] = "w/model.yaml"
        (tmp_path / "params.yaml").write_text(yaml.safe_dump({"curation": {entry.stage: section}}))
        out = CliRunner().invoke(app, ["weights", "--params", str(tmp_path / "params.yaml")], terminal_width=400)
        assert f"curation.{entry.stage}.weights      optional" in out.output


@pytest.mark.parametrize("stage", backends.STAGES)
def test_an_unknown_backend_is_one_error_from_config_and_from_build(stage: str, tmp_path: Path) -> None:
    """The same message (key, value, known names, the closest) from the params loader and from the registry."""
    typo = {"detect": "yolox_onx", "pose": "mediapip", "segment": "grabcat"}[stage]
    close = {"detect": "yolox_onnx", "pose": "mediapipe", "segment": "grabcut"}[stage]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"curation": {stage: {"backend": typo}}}))
    with pytest.raises(ConfigTypeError) as loaded:
        load_section(CurationConfig, "curation", str(tmp_path / "params.yaml"))
    with pytest.raises(ValueError) as built:
        backends.get(stage, typo)
    msg = str(built.value)
    assert msg.startswith(f"curation.{stage}.backend: '{typo}' unknown; known: ")
    assert all(n in msg for n in backends.names(stage)) and f"did you mean '{close}'?" in msg
    assert msg in str(loaded.value)
    build = {"detect": "shoemodel.curation.detect:build_detector", "pose": "shoemodel.curation.pose:build_pose",
             "segment": "shoemodel.curation.segment:build_segmenter"}[stage]
    module, _, fn = build.partition(":")
    with pytest.raises(ValueError) as direct:
        getattr(importlib.import_module(module), fn)(CONFIGS[stage](backend=typo))
    assert str(direct.value) == msg
    res = CliRunner().invoke(app, ["curate", stage, "--set", f"curation.{stage}.backend={typo}"])
    assert res.exit_code == 2 and f"'{typo}' unknown" in res.output and "Traceback" not in res.output


def test_provenance_names_the_registered_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from importlib import metadata

    from shoemodel.curation.provenance import backend_info
    from shoemodel.models.weights import WeightsNotFound

    extra = backends.Backend("shoe_prior_test", "segment", builder="shoemodel.curation.segment_grabcut:from_config",
                             library=("pyarrow",), files=(("weights", "a prior"),), needs_weights=True, hint="h", about="a")
    monkeypatch.setitem(backends._REGISTRY["segment"], extra.name, extra)
    with pytest.raises(WeightsNotFound):  # needs_weights: a missing file is named now
        backend_info("segment", extra.name, str(tmp_path / "prior.npz"))
    (tmp_path / "prior.npz").write_bytes(b"p")
    info = backend_info("segment", extra.name, str(tmp_path / "prior.npz"))
    assert info["library"] == f"pyarrow-{metadata.version('pyarrow')}" and info["weights"] == "prior.npz"
    assert "weights_sha256" in info
    with pytest.raises(ValueError, match=r"curation.segment.backend: 'nope' unknown"):
        backend_info("segment", "nope")
