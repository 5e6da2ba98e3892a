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


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models run far faster on one thread than on two contended ones."""
    import torch

    torch.set_num_threads(1)
