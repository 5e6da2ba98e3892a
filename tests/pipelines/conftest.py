"""Pipelines tests run offline and need torchvision's missing CPU ops registered before torchmetrics/diffusers load."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from shoemodel.models.runtime import prepare_imports  # noqa: E402

prepare_imports()

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models: one thread is as fast, and far faster when other jobs share the 2 cores; restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def sw_dir(tmp_path_factory):
    """A tiny random SW folder shared by the generate and benchmark tests."""
    pytest.importorskip("diffusers")
    from tests.helpers.tiny_models import write_tiny_sw_folder

    return write_tiny_sw_folder(tmp_path_factory.mktemp("sw"))


@pytest.fixture(scope="session")
def product():
    """One synthetic product photo (48 px) with its exact wearable-area mask."""
    from shoemodel.synthetic.examples import make_product_example

    return make_product_example(3, 48)
