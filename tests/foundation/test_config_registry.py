"""One source of truth for configuration: the registry of params sections, params.yaml holding only the sample
run's (commented) changes to the dataclass defaults, `config --diff`, and params-file mistakes named by file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from shoemodel.cli import app
from shoemodel.config import changed_leaves, defaults_of, load_section, to_dict
from shoemodel.config_fields import dataclass_of, field_types
from shoemodel.config_registry import SECTIONS, config_class, section_for
from shoemodel.core_cli import _plain


def _invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _file_leaves(cls: type, node: dict[str, Any], prefix: str) -> list[str]:
    """Dotted keys of the values a params-file section sets (nested configs walked into, anything else a leaf)."""
    out: list[str] = []
    types_ = field_types(cls)
    for key, value in node.items():
        sub = dataclass_of(types_[key])
        if sub is not None and isinstance(value, dict):
            out += _file_leaves(sub, value, f"{prefix}.{key}")
        else:
            out.append(f"{prefix}.{key}")
    return out


def _section_node(data: dict[str, Any], section: str) -> dict[str, Any] | None:
    node: Any = data
    for part in section.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def repeated_defaults(params: Path) -> tuple[list[str], int]:
    """(keys of `params` that set a value equal to its dataclass default, number of leaves in the file)."""
    data = yaml.safe_load(params.read_text()) or {}
    repeats, total = [], 0
    for section in SECTIONS:
        node = _section_node(data, section)
        if not node:
            continue
        cls = config_class(section)
        default = _plain(defaults_of(cls, section, params.parent))
        changed = {key for key, _, _ in changed_leaves(default, _plain(load_section(cls, section, params)), section)}
        leaves = _file_leaves(cls, node, section)
        total += len(leaves)
        repeats += [k for k in leaves if not any(c == k or c.startswith(k + ".") for c in changed)]
    return repeats, total


def test_params_yaml_only_changes_defaults(repo_root: Path) -> None:
    """A key in params.yaml that repeats its dataclass default is a second place for one fact: refused."""
    repeats, total = repeated_defaults(repo_root / "params.yaml")
    assert repeats == [], f"params.yaml repeats these defaults (drop them, the dataclass holds them): {repeats}"
    assert total > 0


def test_repeat_detection_catches_a_repeated_default(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("train:\n  wd:\n    steps: 160000\n    image_size: 64\ncuration:\n  detect:\n    batch_size: 8\n")
    assert repeated_defaults(p)[0] == ["curation.detect.batch_size", "train.wd.steps"]


def test_every_params_change_is_commented(repo_root: Path) -> None:
    """Each change says why: a comment on its line, just above it, or on an enclosing section's line."""
    lines = (repo_root / "params.yaml").read_text().splitlines()
    node = yaml.compose("\n".join(lines))

    def walk(n: Any, commented: bool, key: str) -> list[str]:
        if isinstance(n, yaml.MappingNode):
            missing = []
            for k, v in n.value:
                i = k.start_mark.line
                here = commented or "#" in lines[i] or (i > 0 and lines[i - 1].lstrip().startswith("#"))
                missing += walk(v, here, f"{key}.{k.value}".strip("."))
            return missing
        return [] if commented else [key]

    assert walk(node, False, "") == []


def test_gpu_params_train_on_the_merged_sets(repo_root: Path) -> None:
    gpu = repo_root / "benchmarks" / "training" / "params.gpu.yaml"
    assert repeated_defaults(gpu)[0] == []  # the paper's values are the defaults: the file holds paths and cadence
    for model, kind in (("wd", "wearable_area"), ("lps_keypoints", "shoe_leg"), ("lps_diffusion", "shoe_leg")):
        cfg = load_section(config_class(f"train.{model}"), f"train.{model}", gpu)
        assert Path(cfg.train_set).resolve() == (repo_root / "data/sets/train" / kind).resolve()


def test_registry_imports_no_config_module() -> None:
    code = "import sys, shoemodel.config_registry as r; print(sorted(m for m in sys.modules if m.startswith('shoemodel.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['shoemodel.config_registry']"


def test_section_for_picks_the_longest_section() -> None:
    assert section_for("train.wd.steps") == "train.wd"
    assert section_for("curation.detect.weights") == "curation"
    assert section_for("train") is None and section_for("genrate") is None


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_registered_section_prints(section: str, elsewhere: Path) -> None:
    r = _invoke("config", section)
    assert r.exit_code == 0, r.output
    node = _section_node(yaml.safe_load(r.output), section)
    assert node == _plain(to_dict(load_section(config_class(section), section)))


def test_config_diff_lists_what_the_file_changes(elsewhere: Path, repo_root: Path) -> None:
    (elsewhere / "p.yaml").write_text("train:\n  wd:\n    steps: 7\n    input: photo\ngenerate:\n  layout: {scale: 2}\n")
    r = _invoke("config", "--diff", "--params", "p.yaml")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["train.wd.steps: 160000 -> 7", "generate.layout: {} -> {scale: 2}"]
    r = _invoke("config", "--diff", "--params", "p.yaml", "--set", "train.wd.batch_size=3", "train.wd")
    assert r.output.splitlines() == ["train.wd.steps: 160000 -> 7", "train.wd.batch_size: 16 -> 3"]
    r = _invoke("config", "--diff", "--params", repo_root / "params.yaml")
    assert r.exit_code == 0 and "train.wd.steps: 160000 -> 300" in r.output.splitlines()


def test_misspelled_section_names_file_line_and_the_right_name(elsewhere: Path) -> None:
    (elsewhere / "p.yaml").write_text("train:\n  wd:\n    steps: 3\ngenrate:\n  steps: 4\n")
    line = _one_line(_invoke("train", "wd", "--params", "p.yaml"), 2)
    assert line == "error: p.yaml:4: top level: unknown section(s) ['genrate']; did you mean 'generate'?"
    line = _one_line(_invoke("stats", "x", "--metrics", "m.json", "--plot", "p.csv", "--params", "p.yaml"), 2)
    assert "p.yaml:4" in line and "'generate'" in line
    (elsewhere / "p.yaml").write_text("train:\n  wdd:\n    steps: 3\n")
    line = _one_line(_invoke("config", "--params", "p.yaml"), 2)
    assert line == "error: p.yaml:2: train: unknown section(s) ['wdd']; did you mean 'wd'?"


def test_yaml_syntax_error_is_one_line_exit_2_naming_file_and_line(elsewhere: Path) -> None:
    (elsewhere / "p.yaml").write_text("sample:\n  size: 64\n  seed: 1: 2\n")
    line = _one_line(_invoke("sample", "--params", "p.yaml"), 2)
    assert line.startswith("error: p.yaml:3: YAML syntax error: ")


def test_unknown_key_names_file_and_line(elsewhere: Path) -> None:
    (elsewhere / "p.yaml").write_text("curation:\n  detect:\n    batch_size: 2\n    weight: x.onnx\n")
    line = _one_line(_invoke("config", "--params", "p.yaml", "curation"), 2)
    assert line == "error: p.yaml:4: curation.detect: unknown key(s) ['weight']; did you mean 'weights'?"
