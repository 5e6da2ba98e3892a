"""fiftyone imports in a process where dask came first (dask's importlib_metadata breaks fiftyone's eta)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

if importlib.util.find_spec("fiftyone") is None:  # not imported here: the server tests set its database first
    pytest.skip("fiftyone not installed", allow_module_level=True)


def test_fiftyone_imports_after_dask() -> None:
    code = ("import dask, importlib_metadata\n"
            "from shoemodel.compat.fiftyone import import_fiftyone\n"
            "fo = import_fiftyone()\n"
            "print(fo.__version__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip()
