"""Pipelines tests run offline and need torchvision's missing CPU ops registered before torchmetrics/diffusers load."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from shoemodel.models.runtime import prepare_imports  # noqa: E402

prepare_imports()

import pytest  # noqa: E402
from sw_standins import product, sw_dir  # noqa: E402,F401  (session fixtures)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models: one thread is as fast, and far faster when other jobs share the 2 cores; restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
