"""What a user sees when something is wrong: help that keeps its brackets, `--set` values checked against the
field types, one-line errors (tracebacks only with --debug), OS errors naming the path; --version and `config`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from shoemodel import __version__
from shoemodel.cli import app
from shoemodel.config import ConfigTypeError, load_section
from shoemodel.config_fields import fits, type_name


def _invoke(*args: str | Path, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def _one_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_help_keeps_square_brackets() -> None:
    r = _invoke("sample", "--help")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "[params.yaml: sample.out, default data/sample]" in text
    assert "[a, b]" in text and "\\[" not in text


def test_set_value_of_the_wrong_type_names_the_key(elsewhere: Path) -> None:
    line = _one_line(_invoke("train", "wd", "--set", "train.wd.steps=abc"), 2)
    assert line == "error: train.wd.steps: expected int, got 'abc'"
    line = _one_line(_invoke("train", "wd", "--set", "learning_rate=fast"), 2)
    assert line == "error: train.wd.learning_rate: expected float, got 'fast'"
    line = _one_line(_invoke("sample", "--set", "sample.size=[1, 2]"), 2)
    assert "sample.size: expected int" in line


def test_a_file_value_of_the_wrong_type_names_key_and_file(elsewhere: Path) -> None:
    (elsewhere / "p.yaml").write_text("train:\n  wd:\n    steps: lots\n")
    line = _one_line(_invoke("train", "wd", "--params", "p.yaml"), 2)
    assert "train.wd.steps: expected int, got 'lots'" in line and "p.yaml" in line


def test_type_rules() -> None:
    assert fits(3, float) and not fits(True, int) and not fits("3", int)
    assert fits(None, int | None) and not fits(None, int)
    assert fits(["a"], tuple[str, ...]) and not fits([1], list[str])
    assert type_name(int | None) == "int or null"
    from shoemodel.training.wd.config import WDConfig

    with pytest.raises(ConfigTypeError, match="train.wd.seed: expected int, got '1.5'"):
        load_section(WDConfig, "train.wd", sets=["seed=1.5"])
    assert load_section(WDConfig, "train.wd", sets=["learning_rate=2e-3"]).learning_rate == 2e-3


def test_stats_on_a_folder_without_manifest_is_one_line(elsewhere: Path) -> None:
    (elsewhere / "notaset").mkdir()
    line = _one_line(_invoke("stats", "notaset", "--metrics", "m.json", "--plot", "p.csv"), 2)
    assert "manifest" in line and "notaset" in line


def test_an_error_no_command_caught_is_one_line_and_debug_shows_the_traceback(elsewhere: Path) -> None:
    args = ("train", "wd", "--set", "train_set=nowhere")
    line = _one_line(_invoke(*args), 1)
    assert "nowhere" in line and "manifest" in line and "--debug" in line
    r = _invoke("--debug", *args)
    assert isinstance(r.exception, FileNotFoundError), r.output  # the real exception, traceback and all
    r = _invoke(*args, env={"SHOEMODEL_DEBUG": "1"})
    assert isinstance(r.exception, FileNotFoundError), r.output
    _one_line(_invoke(*args), 1)  # --debug does not stick to the next invocation


def test_version() -> None:
    r = _invoke("--version")
    assert r.exit_code == 0 and r.output.strip() == f"shoemodel {__version__}"


def test_config_prints_the_resolved_configuration(elsewhere: Path) -> None:
    (elsewhere / "p.yaml").write_text("train:\n  wd:\n    steps: 11\n    train_set: sets/wa\n")
    r = _invoke("config", "--params", "p.yaml", "--set", "train.wd.batch_size=3", "train.wd")
    assert r.exit_code == 0, r.output
    wd = yaml.safe_load(r.output)["train"]["wd"]
    assert wd["steps"] == 11 and wd["batch_size"] == 3 and wd["learning_rate"] == pytest.approx(6e-5)
    assert wd["train_set"] == "sets/wa"
    r = _invoke("config", "--params", "p.yaml", "train.wd.steps")
    assert yaml.safe_load(r.output) == {"train": {"wd": {"steps": 11}}}
    r = _invoke("config", "--params", "p.yaml")
    everything = yaml.safe_load(r.output)
    assert {"sample", "curation", "train", "generate", "benchmark"} <= set(everything)
    assert everything["curation"]["detect"]["batch_size"] >= 1
    _one_line(_invoke("config", "nosuch"), 2)
    _one_line(_invoke("config", "--set", "train.wd.steps=abc", "train.wd"), 2)


def test_repo_params_file_passes_the_type_checks(repo_root: Path) -> None:
    r = _invoke("config", "--params", repo_root / "params.yaml")
    assert r.exit_code == 0, r.output


# --- OS errors from a real full disk, read-only mount and denied permission (subprocesses) ---------------------

def _shoemodel(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("SHOEMODEL_DEBUG", None)
    cmd = [*prefix, sys.executable, "-m", "shoemodel.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def _os_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "%|" not in line]  # not progress bars
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return lines[0]


def _can_mount() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    return subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=8k tmpfs /mnt"],
                          capture_output=True).returncode == 0


SMALL = ("--set", "sample.n_shoe_leg=2", "--set", "sample.n_wearable_area=2", "--set", "sample.size=64")


@pytest.mark.skipif(not _can_mount(), reason="needs root and mount namespaces (unshare -m)")
@pytest.mark.parametrize("remount, what", [("", "no space left on the device"), ("ro", "read-only file system")])
def test_full_or_read_only_disk_is_one_line_naming_the_path(tmp_path: Path, remount: str, what: str) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = f"mount -t tmpfs -o size=8k tmpfs {mnt} && " + (f"mount -o remount,ro {mnt} && " if remount else "") + '"$@"'
    proc = _shoemodel("sample", "--out", str(mnt / "sample"), *SMALL, prefix=("unshare", "-m", "sh", "-c", script, "sh"))
    line = _os_error_line(proc)
    assert line.startswith(f"error: {what}: {mnt}"), line


#: Root writes anywhere through CAP_DAC_OVERRIDE; without it (and CAP_DAC_READ_SEARCH) a folder's mode binds root
#: too. Dropping the capabilities keeps the uid, so the package is still importable from a private (0700) clone.
_NO_DAC = ("setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search")


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="as root, needs setpriv to drop "
                    "the capability to write into a read-only folder")
def test_permission_denied_is_one_line_naming_the_path(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)  # nobody may write here, root included once it lacks CAP_DAC_OVERRIDE
    proc = _shoemodel("sample", "--out", str(locked / "sample"), *SMALL, prefix=_NO_DAC if os.geteuid() == 0 else ())
    line = _os_error_line(proc)
    assert line.startswith(f"error: permission denied: {locked}"), line
