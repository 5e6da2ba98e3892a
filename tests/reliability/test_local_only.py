"""Services listen on 127.0.0.1 only, and secrets given on the command line never reach a file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from shoemodel.store.lock import folder_lock, holder, lock_path


def test_lock_note_hides_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["shoemodel", "annotate", "round", "--token", "s3cr3t-abc", "--api-key=k3y-xyz", "--out", "x"])
    with folder_lock(tmp_path / "set"):
        text = lock_path(tmp_path / "set").read_text()
        assert "s3cr3t-abc" not in text and "k3y-xyz" not in text
        assert holder(tmp_path / "set")["command"] == "shoemodel annotate round --token *** --api-key=*** --out x"


def test_default_addresses_are_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    from shoemodel.annotation import browse
    from shoemodel.annotation.config import BrowseConfig, server_from_env

    assert BrowseConfig().address == "127.0.0.1"
    assert inspect.signature(browse.launch).parameters["address"].default == "127.0.0.1"
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    assert server_from_env(None, "t")[0].startswith("http://127.0.0.1:")


@pytest.mark.server
def test_local_dask_cluster_listens_on_loopback() -> None:
    from shoemodel.parallel import ExecutorConfig, executor_from_config

    with executor_from_config(ExecutorConfig(kind="local", n_workers=1)) as ex:
        info = ex.client.scheduler_info()
        assert info["address"].startswith("tcp://127.0.0.1:")
        assert all(w.startswith("tcp://127.0.0.1:") for w in info["workers"])
        assert ex.client.dashboard_link.startswith("http://127.0.0.1:")
