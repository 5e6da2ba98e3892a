"""Shared test setup: offline switches, the fixtures folder, and a small synthetic sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _k, _v in {
    "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "YOLO_OFFLINE": "1",
    "DVC_NO_ANALYTICS": "1", "FIFTYONE_DO_NOT_TRACK": "true", "TQDM_DISABLE": "1",
}.items():
    os.environ.setdefault(_k, _v)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Real weights and photos (../shared/fixtures or $SHOEMODEL_FIXTURES); skip when absent."""
    path = Path(os.environ.get("SHOEMODEL_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures"))
    if not path.is_dir():
        pytest.skip(f"real fixtures not found at {path} (set SHOEMODEL_FIXTURES)")
    return path


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic sample folder (48 worn scenes, 32 product photos, 128 px)."""
    from shoemodel.synthetic.config import SampleConfig
    from shoemodel.synthetic.sample import write_sample

    out = tmp_path_factory.mktemp("sample") / "sample"
    return write_sample(SampleConfig(out=str(out), size=128, n_shoe_leg=48, n_wearable_area=32, seed=7), progress=False)


@pytest.fixture(scope="session")
def small_sets(small_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Shard sets built from `small_sample`: {'shoe_leg': path, 'wearable_area': path}."""
    from shoemodel.sets.config import SetsConfig
    from shoemodel.sets.from_labels import build_set_from_labels

    root = tmp_path_factory.mktemp("sets")
    out = {}
    for name in ("shoe_leg", "wearable_area"):
        build_set_from_labels(small_sample / name, root / name, name, SetsConfig(records_per_shard=16), progress=False)
        out[name] = root / name
    return out


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current folder (no ./params.yaml), no $SHOEMODEL_PARAMS and no $SHOEMODEL_DEBUG."""
    d = tmp_path / "cwd"
    d.mkdir()
    monkeypatch.chdir(d)
    monkeypatch.delenv("SHOEMODEL_PARAMS", raising=False)
    monkeypatch.delenv("SHOEMODEL_DEBUG", raising=False)
    return d
