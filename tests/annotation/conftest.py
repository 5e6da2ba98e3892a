"""Session-wide real servers: one Label Studio and one mongod, started by the tests and stopped after."""

from __future__ import annotations

import os

import pytest

from tests.annotation import servers


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    """A fresh Label Studio (SQLite) with a preset user token; yields (url, token, files_root, start_seconds)."""
    pytest.importorskip("label_studio_sdk")
    base = tmp_path_factory.mktemp("label-studio")
    files_root = base / "files"
    files_root.mkdir()
    proc, url, seconds = servers.start_label_studio(base / "data", files_root)
    print(f"\nLabel Studio healthy after {seconds:.1f} s at {url}")
    yield url, servers.LS_TOKEN, files_root, seconds
    servers.stop_group(proc)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """FiftyOne's bundled mongod on a free port with a tmp dbpath; sets FIFTYONE_DATABASE_URI for this process."""
    pytest.importorskip("fiftyone")
    base = tmp_path_factory.mktemp("mongo")
    proc, uri = servers.start_mongod(base / "db")
    old = {k: os.environ.get(k) for k in ("FIFTYONE_DATABASE_URI", "FIFTYONE_DATABASE_VALIDATION", "FIFTYONE_DO_NOT_TRACK")}
    os.environ.update({"FIFTYONE_DATABASE_URI": uri, "FIFTYONE_DATABASE_VALIDATION": "false", "FIFTYONE_DO_NOT_TRACK": "true"})
    yield uri
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    servers.stop_group(proc)
