"""Session-wide real servers: one Label Studio and one mongod, started by the tests and stopped after.

Label Studio's first start (fresh SQLite, migrations) takes 30-100 s on 2 cores, so it is launched in
the background as soon as collection finishes and the fixture only waits for it: the FiftyOne tests
run meanwhile.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import ann_servers as servers
import pytest

_LS: dict = {}


def pytest_collection_finish(session):
    if any("label_studio" in getattr(item, "fixturenames", ()) for item in session.items) \
            and importlib.util.find_spec("label_studio_sdk") is not None:
        base = Path(tempfile.mkdtemp(prefix="shoemodel-ls-"))
        (base / "files").mkdir()
        _LS.update(base=base, launch=servers.launch_label_studio(base / "data", base / "files"))


def pytest_sessionfinish(session, exitstatus):
    if "launch" in _LS:
        servers.stop_group(_LS["launch"][0])
        shutil.rmtree(_LS["base"], ignore_errors=True)
        _LS.clear()


@pytest.fixture(scope="session")
def label_studio():
    """A fresh Label Studio (SQLite) with a preset user token; yields (url, token, files_root, start_seconds)."""
    if "launch" not in _LS:
        pytest.skip("label-studio-sdk not installed")
    proc, url, log, t0 = _LS["launch"]
    seconds = servers.wait_label_studio(proc, url, log, t0)
    print(f"\nLabel Studio healthy {seconds:.1f} s after launch at {url}")
    yield url, servers.LS_TOKEN, _LS["base"] / "files", seconds


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """FiftyOne's bundled mongod on a free port with a tmp dbpath; sets FIFTYONE_DATABASE_URI for this process."""
    if importlib.util.find_spec("fiftyone") is None:  # not importorskip: fiftyone reads its config on import
        pytest.skip("fiftyone not installed")
    if "fiftyone" in sys.modules:
        pytest.fail("fiftyone was imported before FIFTYONE_DATABASE_URI was set; it would use another database")
    base = tmp_path_factory.mktemp("mongo")
    proc, uri = servers.start_mongod(base / "db")
    old = {k: os.environ.get(k) for k in ("FIFTYONE_DATABASE_URI", "FIFTYONE_DATABASE_VALIDATION", "FIFTYONE_DO_NOT_TRACK")}
    os.environ.update({"FIFTYONE_DATABASE_URI": uri, "FIFTYONE_DATABASE_VALIDATION": "false", "FIFTYONE_DO_NOT_TRACK": "true"})
    yield uri
    _release_fiftyone()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    servers.stop_group(proc)


def _release_fiftyone() -> None:
    """Run FiftyOne's exit-time cleanup now, while mongod is still up; otherwise it runs at interpreter exit
    against a stopped server and waits ~30 s for a server-selection timeout."""
    import atexit

    fod = sys.modules.get("fiftyone.core.odm.database")
    if fod is None:
        return
    cleanup = getattr(fod, "_delete_non_persistent_datasets_if_allowed", None)
    if cleanup is not None:
        cleanup()
        atexit.unregister(cleanup)
    disconnect = getattr(fod, "_disconnect", None)
    if disconnect is not None:
        disconnect()
