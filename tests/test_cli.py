"""One CLI convention: every command takes --params and --set, bad settings are one-line errors, and
paths in a params file are read against the file's folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest
import typer
import yaml
from typer.testing import CliRunner

from shoemodel.cli import app
from shoemodel.config import ParamPath, PathParam, load_section, params_path
from shoemodel.config_fields import parse_text, resolve_path


def _commands(group, path: tuple[str, ...] = (), groups: bool = False) -> list[tuple[str, ...]]:
    """Every leaf command under a typer/click group (and, with `groups`, every group), as its argument path."""
    out = []
    for name, cmd in sorted(group.commands.items()):
        is_group = hasattr(cmd, "commands")
        if is_group == groups:
            out.append((*path, name))
        if is_group:
            out += _commands(cmd, (*path, name), groups)
    return out


ROOT = typer.main.get_command(app)
COMMANDS = _commands(ROOT)
GROUPS = _commands(ROOT, groups=True)


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(result, *needles: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a clean exit, not an exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for needle in needles:
        assert needle in lines[0], result.output


def test_the_tree_has_the_expected_commands_once() -> None:
    assert "pipeline" not in ROOT.commands
    names = [" ".join(c) for c in COMMANDS]
    for expected in ("sample", "build-set", "stats", "validate", "browse", "generate", "benchmark", "curate run",
                     "curate build", "annotate round", "annotate ml-backend", "merge-sets", "train wd", "train lps-keypoints", "train lps-diffusion",
                     "train sw", "evaluate wd", "evaluate lps-diffusion"):
        assert names.count(expected) == 1, expected


@pytest.mark.parametrize("command", [(), *GROUPS, *COMMANDS], ids=lambda c: " ".join(c) or "root")
def test_every_command_lists_params_and_set(command: tuple[str, ...]) -> None:
    r = _invoke(*command, "--help")
    assert r.exit_code == 0, r.output
    assert "--params" in r.output and "--set" in r.output


@pytest.mark.parametrize("args", [
    ["sample", "--set", "sample.n_shoe_lgs=4"],
    ["sample", "--set", "n_shoe_lgs=4"],
    ["--set", "sample.n_shoe_lgs=4", "sample"],
    ["train", "--set", "train.wd.n_shoe_lgs=3", "wd"],
    ["build-set", "shoe_leg", "--labels", "x", "--out", "y", "--set", "executor.n_shoe_lgs=2"],
    ["curate", "run", "photos", "--set", "curation.detect.n_shoe_lgs=1"],
    ["train", "wd", "--set", "train.wd.n_shoe_lgs=3"],
    ["train", "sw", "--set", "n_shoe_lgs=3"],
    ["evaluate", "lps-keypoints", "--set", "n_shoe_lgs=3"],
    ["generate", "--shoe", "s.png", "--prompt", "p", "--set", "generate.n_shoe_lgs=2"],
    ["benchmark", "--set", "n_shoe_lgs=2"],
    ["annotate", "build", "--set", "annotation.n_shoe_lgs=2"],
    ["browse", "some-set", "--set", "n_shoe_lgs=2"],
], ids=lambda a: " ".join(a[:2]))
def test_unknown_set_key_is_named_without_a_traceback(elsewhere: Path, args: list[str]) -> None:
    _one_line_error(_invoke(*args), "n_shoe_lgs", "unknown key")


def test_unknown_key_in_the_file_names_section_and_key(elsewhere: Path) -> None:
    (elsewhere / "p.yaml").write_text("sample: {n_shoe_lgs: 3}\n")
    _one_line_error(_invoke("sample", "--params", "p.yaml"), "sample", "n_shoe_lgs", "n_shoe_leg")


def test_set_on_a_command_without_params_section_is_refused(elsewhere: Path) -> None:
    _one_line_error(_invoke("stats", "s", "--metrics", "m.json", "--plot", "p.csv", "--set", "x=1"), "no params section")


def test_a_key_of_another_section_says_what_the_command_reads(elsewhere: Path) -> None:
    _one_line_error(_invoke("--set", "train.wd.steps=3", "sample"), "--set train.wd.steps=3", "unknown key",
                    "this command reads: sample")


def test_malformed_set_is_refused(elsewhere: Path) -> None:
    _one_line_error(_invoke("sample", "--set", "n_shoe_leg"), "key=value")


@pytest.mark.parametrize("args", [["sample"], ["train", "wd"], ["stats", "s", "--metrics", "m", "--plot", "p"],
                                  ["curate", "detect"], ["annotate", "status"]], ids=" ".join)
def test_a_named_params_file_that_is_missing_exits_2(elsewhere: Path, args: list[str]) -> None:
    _one_line_error(_invoke(*args, "--params", "missing.yaml"), "missing.yaml")
    _one_line_error(_invoke("--params", "missing.yaml", *args), "missing.yaml")


def test_missing_shoemodel_params_env_file_exits_2(elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOEMODEL_PARAMS", str(elsewhere / "nope.yaml"))
    _one_line_error(_invoke("sample"), "nope.yaml", "SHOEMODEL_PARAMS")


@pytest.mark.parametrize("args, what", [
    (["curate", "run", "MISSING", "--out", "o"], "MISSING"),
    (["build-set", "shoe_leg", "--labels", "MISSING", "--out", "o"], "MISSING"),
    (["stats", "MISSING", "--metrics", "m.json", "--plot", "p.csv"], "MISSING"),
    (["validate", "MISSING"], "MISSING"),
    (["generate", "--shoe", "MISSING.png", "--prompt", "p"], "MISSING.png"),
], ids=["curate-run", "build-set", "stats", "validate", "generate"])
def test_a_missing_input_is_a_one_line_error(elsewhere: Path, args: list[str], what: str) -> None:
    _one_line_error(_invoke(*args), what, "not found")


SAMPLE_SMALL = ["--set", "sample.n_shoe_leg=2", "--set", "n_wearable_area=2", "--set", "sample.size=64"]


def test_params_paths_follow_the_file_and_the_command_line_wins(elsewhere: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "params.yaml").write_text(yaml.safe_dump({"sample": {"out": "made", "seed": 1}}))
    # root --params is overridden by the command's; relative sample.out is read against b/
    r = _invoke("--params", a / "params.yaml", "--set", "sample.seed=3", "sample", "--params", b / "params.yaml", *SAMPLE_SMALL)
    assert r.exit_code == 0, r.output
    assert (b / "made" / "shoe_leg" / "labels.jsonl").exists() and not (a / "made").exists()
    assert not (elsewhere / "made").exists()
    # --out on the command line is read against the current folder
    r = _invoke("sample", "--params", b / "params.yaml", "--out", "here", *SAMPLE_SMALL)
    assert r.exit_code == 0, r.output
    assert (elsewhere / "here" / "wearable_area" / "labels.jsonl").exists()


def test_without_any_params_file_the_defaults_run(elsewhere: Path) -> None:
    assert params_path() is None
    r = _invoke("sample", *SAMPLE_SMALL)
    assert r.exit_code == 0, r.output
    assert (elsewhere / "data" / "sample" / "shoe_leg" / "labels.jsonl").exists()


# ---- path resolution ----

@dataclass
class _Inner:
    weights: ParamPath = "weights/w.onnx"
    name: str = "keep/me"


@dataclass
class _Cfg:
    data: ParamPath = "data/set"
    model: Annotated[str, PathParam("tiny")] = "tiny"
    maybe: ParamPath | None = None
    sources: list[ParamPath] = field(default_factory=list)
    pair: tuple[ParamPath, ...] = ()
    label: str = "not/a/path"
    lr: float = 1e-4
    inner: _Inner = field(default_factory=_Inner)


def test_resolve_path_rules() -> None:
    m = PathParam("tiny", "inception")
    assert resolve_path("a/b", m, "/proj") == "/proj/a/b"
    assert resolve_path("../shared/x", m, "/proj/sub") == "/proj/shared/x"
    assert resolve_path("/abs/x", m, "/proj") == "/abs/x"
    assert resolve_path("s3://bucket/x", m, "/proj") == "s3://bucket/x"
    assert resolve_path("file:///x", m, "/proj") == "file:///x"
    assert resolve_path("tiny", m, "/proj") == "tiny" and resolve_path("inception", m, "/proj") == "inception"
    assert resolve_path("", m, "/proj") == ""
    assert resolve_path(None, m, "/proj") is None
    assert resolve_path("a/b", m, ".") == "a/b"  # ./params.yaml: paths stay as written


def test_file_values_and_defaults_follow_the_params_folder(tmp_path: Path, elsewhere: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "p.yaml").write_text(yaml.safe_dump({"s": {"c": {
        "model": "models/m", "maybe": "opt/x", "sources": ["a", "/abs/b", "http://host/c", ""],
        "pair": ["p1", "p2"], "label": "x/y", "inner": {"name": "n/m"}}}}))
    cfg = load_section(_Cfg, "s.c", proj / "p.yaml")
    assert cfg.model == str(proj / "models/m") and cfg.maybe == str(proj / "opt/x")
    assert cfg.sources == [str(proj / "a"), "/abs/b", "http://host/c", ""]
    assert cfg.pair == (str(proj / "p1"), str(proj / "p2"))
    assert cfg.label == "x/y" and cfg.inner.name == "n/m"  # not path fields
    assert cfg.data == str(proj / "data/set") and cfg.inner.weights == str(proj / "weights/w.onnx")  # defaults too


def test_command_line_values_stay_relative_to_the_current_folder(tmp_path: Path, elsewhere: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "p.yaml").write_text("s: {data: from/file}\n")
    cfg = load_section(_Cfg, "s", proj / "p.yaml", overrides={"inner.weights": Path("flag/w"), "maybe": None},
                       sets=["s.data=typed/here", "model=tiny", "sources=[x, y]", "lr=2e-3", "maybe=null"])
    assert cfg.data == "typed/here" and cfg.model == "tiny" and cfg.sources == ["x", "y"]
    assert cfg.inner.weights == "flag/w" and cfg.maybe is None and cfg.lr == 2e-3
    assert cfg.inner.name == "keep/me"


def test_without_a_params_file_defaults_are_relative_to_the_current_folder(elsewhere: Path) -> None:
    cfg = load_section(_Cfg, "s")
    assert cfg.data == "data/set" and cfg.inner.weights == "weights/w.onnx"


def test_set_texts_are_read_against_the_field_type() -> None:
    assert parse_text("2e-3", float) == 2e-3 and isinstance(parse_text("3", float), float)
    assert parse_text("no", str) == "no" and parse_text("no", bool) is False
    assert parse_text("null", str | None) is None and parse_text("null", str) == "null"
    assert parse_text("[1.0, 5.0]", tuple[float, ...]) == (1.0, 5.0)
    assert parse_text("{GPU: 1}", dict[str, float]) == {"GPU": 1}
    assert parse_text("'007'", str) == "007"
    assert parse_text("photos", list[ParamPath]) == ["photos"] and parse_text("a", tuple[str, ...]) == ("a",)


def test_set_descends_into_nested_configs_and_mappings(elsewhere: Path) -> None:
    from shoemodel.curation.config import CurationConfig
    from shoemodel.pipelines.config import GenerateConfig

    cfg = load_section(CurationConfig, "curation", sets=["curation.detect={backend: full_frame}", "gpu_resources={}",
                                                         "executor.kind=local", "ingest.sources=[a, b]"])
    assert cfg.detect.backend == "full_frame" and cfg.detect.score_threshold == 0.5
    assert cfg.gpu_resources == {} and cfg.executor.kind == "local" and cfg.ingest.sources == ["a", "b"]
    g = load_section(GenerateConfig, "generate", sets=["generate.layout.scale=0.8", "wd=null"])
    assert g.layout == {"scale": 0.8} and g.wd is None
    with pytest.raises(ValueError, match="curation.detect: unknown key"):
        load_section(CurationConfig, "curation", sets=["detect.nope=1"])


def test_every_path_field_is_marked() -> None:
    """Fields whose name says path are ParamPath (so a new one cannot silently read against the cwd)."""
    from shoemodel.annotation.config import AnnotationConfig, BrowseConfig, MLBackendConfig
    from shoemodel.config_fields import field_types, path_marker
    from shoemodel.curation.config import CurationConfig, DetectConfig, IngestConfig, PoseConfig, SegmentConfig
    from shoemodel.pipelines.config import BenchmarkConfig, GenerateConfig
    from shoemodel.sets.config import MergeSpec
    from shoemodel.synthetic.config import SampleConfig
    from shoemodel.training.lps_diffusion.config import LegDiffusionConfig
    from shoemodel.training.lps_keypoints.config import FootKeypointsConfig
    from shoemodel.training.shoe_prior.config import ShoePriorConfig
    from shoemodel.training.wd.config import WDConfig

    expected = {
        SampleConfig: {"out"}, CurationConfig: {"work_dir", "out"}, IngestConfig: {"sources", "optional_sources", "copy_sources"},
        DetectConfig: {"weights"}, PoseConfig: {"weights", "config"},
        SegmentConfig: {"weights", "prior_weights", "prior_check_weights"},
        AnnotationConfig: {"pool", "workdir", "output", "document_root", "snapshot"}, BrowseConfig: {"media_dir"},
        MLBackendConfig: {"checkpoint", "sam_checkpoint", "pool"}, MergeSpec: {"inputs", "out"},
        GenerateConfig: {"sw", "wd", "lps_keypoints", "lps_diffusion", "sam_checkpoint", "out"},
        BenchmarkConfig: {"shoes", "real", "inception_weights", "clip", "out", "metrics", "sw", "wd", "lps_keypoints",
                          "lps_diffusion", "sd15", "sdxl", "sd15_inpaint", "controlnet_inpaint", "paint_by_example"},
        WDConfig: {"train_set", "output_dir", "metrics_dir", "pretrained"},
        FootKeypointsConfig: {"train_set", "output_dir", "metrics_dir"},
        LegDiffusionConfig: {"train_set", "output_dir", "metrics_dir"},
        ShoePriorConfig: {"train_set", "output_dir", "metrics_dir", "ccp_root", "split_file", "pose_cache"},
    }
    for cls, names in expected.items():
        marked = {n for n, tp in field_types(cls).items() if path_marker(tp)[0] is not None}
        assert marked == names, (cls.__name__, marked ^ names)
    assert "tiny-random" in path_marker(field_types(BenchmarkConfig)["clip"])[0].keywords


def test_repo_params_file_reads_the_same_from_any_folder(repo_root: Path, elsewhere: Path) -> None:
    from shoemodel.config import load_section
    from shoemodel.curation.config import CurationConfig

    cfg = load_section(CurationConfig, "curation", repo_root / "params.yaml")
    assert cfg.detect.weights == os.path.normpath(repo_root / "../shared/fixtures/weights/yolox_nano/yolox_nano.onnx")
    assert cfg.ingest.sources == [str(repo_root / "data/sample/shoe_leg/images")]
    assert cfg.work_dir == str(repo_root / "data/curation")
