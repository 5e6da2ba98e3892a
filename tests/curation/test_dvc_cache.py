"""Curation's big outputs never double the disk through DVC's cache (real `dvc repro` / `dvc checkout`).

DVC copies an output into .dvc/cache when it commits it, whatever cache.type says (links are made at checkout),
so the photo-sized folders (the ingest parts, the shoe-leg set) are `cache: false` outs: hashed in dvc.lock,
never copied. The other outputs are linked back from the cache (reflink, hardlink or symlink) by checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

BIG = ("data/curation/ingest", "data/curation/shoe_leg")


def _dvc(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    r = subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def test_the_photo_sized_outputs_are_kept_out_of_the_cache(repo_root: Path) -> None:
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    outs = {next(iter(o)) if isinstance(o, dict) else o: (o[next(iter(o))] if isinstance(o, dict) else {})
            for s in stages.values() for o in s.get("outs", [])}
    for path in BIG:
        assert outs[path].get("cache") is False and outs[path].get("persist") is True, path


def test_repro_does_not_copy_an_uncached_output_and_checkout_links_the_rest(repo_root: Path, tmp_path: Path) -> None:
    if shutil.which("dvc") is None:
        pytest.skip("dvc is not on PATH")
    proj = tmp_path / "proj"
    proj.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    _dvc(["init", "-q"], proj)
    shutil.copy(repo_root / ".dvc" / "config", proj / ".dvc" / "config")
    write = "import os, sys; os.makedirs(sys.argv[1], exist_ok=True); [open(f'{sys.argv[1]}/part-{i:05d}.parquet', 'wb').write(os.urandom(1 << 18)) for i in range(4)]"
    pipeline = {"stages": {
        "ingest": {"cmd": f'python -c "{write}" big', "outs": [{"big": {"persist": True, "cache": False}}]},
        "detect": {"cmd": f'python -c "{write}" small', "deps": ["big"], "outs": [{"small": {"persist": True}}]},
    }}
    (proj / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    _dvc(["repro", "-q"], proj)
    cache = proj / ".dvc" / "cache"
    assert _size(proj / "big") == 4 << 18
    assert _size(cache) < 2 * (4 << 18)  # only `small` went in (1 MB), not `big`
    assert "big" in (proj / "dvc.lock").read_text()  # still hashed: a change reruns downstream stages
    _dvc(["checkout", "--relink", "-q"], proj)
    for f in sorted((proj / "small").iterdir()):
        assert f.is_symlink() or f.stat().st_nlink > 1 or _reflinks(proj), f"{f.name} is a copy of the cache"


def _reflinks(folder: Path) -> bool:
    a, b = folder / "probe", folder / "probe.copy"
    a.write_bytes(b"x" * 4096)
    ok = subprocess.run(["cp", "--reflink=always", str(a), str(b)], capture_output=True).returncode == 0
    a.unlink()
    b.unlink(missing_ok=True)
    return ok
