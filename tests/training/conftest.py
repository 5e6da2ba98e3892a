"""Tiny shard sets made from the synthetic generator (exact ground truth), shared by the training tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def wearable_set(tmp_path_factory) -> Path:
    from tests.helpers.sets import write_synthetic_set

    return write_synthetic_set(tmp_path_factory.mktemp("sets") / "wearable_area", "wearable_area", 24, 64)


@pytest.fixture(scope="session")
def shoe_leg_set(tmp_path_factory) -> Path:
    from tests.helpers.sets import write_synthetic_set

    return write_synthetic_set(tmp_path_factory.mktemp("sets") / "shoe_leg", "shoe_leg", 32, 64)


@pytest.fixture
def fresh_accelerator_state():
    """accelerate keeps one mixed-precision setting per process; other tests may have set another."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models run far faster on one thread than on two contended ones."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A tiny random SD-shaped base (32 px) for the SW tests."""
    from shoemodel.models.sw.tiny import make_tiny_base_model

    return make_tiny_base_model(tmp_path_factory.mktemp("base"), resolution=32)


@pytest.fixture(scope="module")
def small_shoe_leg_set(tmp_path_factory):
    """Five 48-px shoe-leg records (one in val): enough for SW's step-level tests."""
    from tests.helpers.sets import write_synthetic_shoe_leg_set

    return write_synthetic_shoe_leg_set(tmp_path_factory.mktemp("set") / "shoe_leg", n=5, size=48, n_val=1)
