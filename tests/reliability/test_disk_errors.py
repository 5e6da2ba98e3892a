"""A full or read-only disk is one line naming the file, with a non-zero exit; the finished shards stay intact."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shoemodel.cli import app
from shoemodel.store import atomic
from tests.reliability.corpus import labelled_corpus


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "disk full"), (errno.EROFS, "read-only file system"),
                                             (errno.EACCES, "permission denied")])
def test_write_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str) -> None:
    folder, _ = labelled_corpus(tmp_path)
    (tmp_path / "empty.yaml").write_text("{}\n")
    args = ["--params", str(tmp_path / "empty.yaml"), "build-set", "wearable_area", "--labels", str(folder),
            "--out", str(tmp_path / "set"), "--set", "sets.records_per_shard=4"]
    real = os.fsync
    calls = {"n": 0}

    def failing(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > 3:  # after a few files were written
            raise OSError(code, os.strerror(code))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", failing)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    err = [line.split("error:", 1)[1] for line in res.output.splitlines() if "error:" in line]  # (after a progress bar's \r)
    assert len(err) == 1 and words in err[0] and str(tmp_path / "set") in err[0] and "Errno" not in err[0], res.output
    assert "Traceback" not in res.output
    monkeypatch.setattr(atomic.os, "fsync", real)
    res = CliRunner().invoke(app, args)  # the disk has room again: the run resumes and finishes
    assert res.exit_code == 0, res.output
    assert not list((tmp_path / "set").rglob("*.tmp"))
