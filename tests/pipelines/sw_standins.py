"""Test stand-ins for LpS (used only in tests) and shared tiny SW fixtures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shoemodel.schemas.keypoints import FOOT_INDICES

SIZE = 32


class FootStandIn:
    """Test stand-in for LpS phase 1: 8 foot points spread over the visible area's box."""

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(rgb.max(-1) > 0)
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        one = [(x0 + 0.3 * (x1 - x0), y0), (x1, y1), (x1, y0 + 0.7 * (y1 - y0)), (x0, y1)]  # ankle, toes, heel
        return np.array([(x, y, 2.0) for x, y in one * 2], np.float32)


class LegStandIn:
    """Test stand-in for LpS phase 2: legs straight up from the ankles, seed-dependent lean."""

    def sample(self, foot8: np.ndarray, image_size, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.zeros((n, 12, 3), np.float32)
        for k in range(n):
            out[k, list(FOOT_INDICES)] = foot8
            for side, ankle in ((0, foot8[0]), (1, foot8[4])):
                lean = rng.uniform(-3, 3)
                out[k, 2 + side] = (ankle[0] + lean, max(ankle[1] - 10, 0), 2)
                out[k, side] = (ankle[0] + 2 * lean, max(ankle[1] - 20, 0), 2)
        return out


@pytest.fixture(scope="session")
def sw_dir(tmp_path_factory):
    """A trained-by-nobody SW folder: tiny random base + random 6-channel ControlNet, saved like training does."""
    from shoemodel.models.sw.base import load_base_model, make_controlnet
    from shoemodel.models.sw.generator import META_FILE
    from shoemodel.models.sw.tiny import make_tiny_base_model

    root = tmp_path_factory.mktemp("sw")
    base_dir = make_tiny_base_model(root / "base", resolution=SIZE)
    make_controlnet(load_base_model(base_dir)).save_pretrained(root / "controlnet")
    (root / META_FILE).write_text(json.dumps({"base_model": str(base_dir), "resolution": SIZE}))
    return root


@pytest.fixture(scope="session")
def product():
    from shoemodel.synthetic.examples import make_product_example

    return make_product_example(3, 48)


