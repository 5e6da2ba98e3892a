"""Stand-ins for trained models, with outputs simple enough for a test to predict.

WD and LpS phase 1 / phase 2 stand-ins drive the generate pipeline and benchmark without trained weights;
`probability_predictor` is a WD predictor factory for `--predictor tests.helpers.standins:probability_predictor`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shoemodel.schemas.keypoints import FOOT_INDICES


class FootStandIn:
    """LpS phase 1 stand-in: 8 foot points spread over the visible area's box."""

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(rgb.max(-1) > 0)
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        one = [(x0 + 0.3 * (x1 - x0), y0), (x1, y1), (x1, y0 + 0.7 * (y1 - y0)), (x0, y1)]  # ankle, toes, heel
        return np.array([(x, y, 2.0) for x, y in one * 2], np.float32)


class LegStandIn:
    """LpS phase 2 stand-in: legs straight up from the ankles, seed-dependent lean."""

    def sample(self, foot8: np.ndarray, image_size: tuple[int, int], n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.zeros((n, 12, 3), np.float32)
        for k in range(n):
            out[k, list(FOOT_INDICES)] = foot8
            for side, ankle in ((0, foot8[0]), (1, foot8[4])):
                lean = rng.uniform(-3, 3)
                out[k, 2 + side] = (ankle[0] + lean, max(ankle[1] - 10, 0), 2)
                out[k, side] = (ankle[0] + 2 * lean, max(ankle[1] - 20, 0), 2)
        return out


def probability_predictor(level: float = 0.6) -> Callable[[np.ndarray], np.ndarray]:
    """A WD predictor factory: fixed wearable-ish probabilities on the shoe's pixels."""
    def run(shoe_image: np.ndarray) -> np.ndarray:
        h, w = shoe_image.shape[:2]
        p = np.zeros((h, w, 3), np.float32)
        p[..., 2] = level * (shoe_image[..., 0] > 0)
        p[..., 0] = 1 - p[..., 2]
        return p
    return run


class AreaStandIn:
    """WD stand-in: every non-black pixel of X_m gets one class (VISIBLE, or WEARABLE for 'nothing visible')."""

    def __init__(self, cls: int):
        self.cls = cls

    def predict(self, x_m: np.ndarray) -> np.ndarray:
        return np.where(x_m.max(-1) > 0, self.cls, 0).astype(np.uint8)
