"""Quiet by default: what libraries write to descriptor 2 (MediaPipe's C++, child servers) goes to the log file, the
command's own stderr lines still reach the console, and --verbose / SHOEMODEL_VERBOSE=1 shows everything."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Noise the way the libraries make it: C-level writes to fd 2, a child process's stderr, a library logger.
_SCRIPT = textwrap.dedent("""
    import logging, os, subprocess, sys
    from shoemodel import quiet
    with quiet.third_party_to_log():
        os.write(2, b"W0000 native noise\\n")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('child noise\\\\n')"])
        logging.getLogger("fiftyone.core.service").warning("library notice")
        print("own line", file=sys.stderr)
""")


def _run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "SHOEMODEL_VERBOSE"}
    env = {**base, "PYTHONPATH": str(ROOT), "SHOEMODEL_LOG_FILE": str(tmp_path / "third_party.log"), **(env or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)


def test_library_noise_goes_to_the_log_and_own_lines_to_the_console(tmp_path: Path) -> None:
    proc = _run(tmp_path, "-c", _SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "own line\n"
    log = (tmp_path / "third_party.log").read_text()
    assert "native noise" in log and "child noise" in log and "library notice" in log


def test_verbose_shows_the_library_noise(tmp_path: Path) -> None:
    proc = _run(tmp_path, "-c", _SCRIPT, env={"SHOEMODEL_VERBOSE": "1"})
    assert "native noise" in proc.stderr and "child noise" in proc.stderr and "own line" in proc.stderr
    assert not (tmp_path / "third_party.log").exists()


def test_cli_errors_still_reach_the_console(tmp_path: Path) -> None:
    proc = _run(tmp_path, "-m", "shoemodel.cli", "--params", str(tmp_path / "missing.yaml"), "sample")
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "missing.yaml" in proc.stderr, proc.stderr


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="needs mediapipe")
def test_mediapipe_imports_without_the_protobuf_attribute_error(tmp_path: Path) -> None:
    script = "from shoemodel.compat.mediapipe import import_mediapipe; import_mediapipe()"
    proc = _run(tmp_path, "-c", script, env={"SHOEMODEL_VERBOSE": "1"})
    assert proc.returncode == 0 and "GetPrototype" not in proc.stderr, proc.stderr


def test_a_library_print_is_diverted_and_other_lines_are_not(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        from shoemodel import quiet
        with quiet.third_party_to_log(), quiet.divert_prints("Could not connect session"):
            print("\\r\\nCould not connect session, trying again in 10 seconds\\r\\n")
            print("App: http://127.0.0.1:5151")
    """)
    proc = _run(tmp_path, "-c", script)
    assert proc.stdout == "App: http://127.0.0.1:5151\n" and proc.stderr == ""
    assert "Could not connect session" in (tmp_path / "third_party.log").read_text()
