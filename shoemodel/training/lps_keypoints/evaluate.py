"""Phase 1 evaluation: PCK@0.05 / 0.1 of the image size and per-point error, against baselines."""

from __future__ import annotations

from typing import Any

import numpy as np

from shoemodel.models.lps_keypoints.predictor import FootKeypointPredictor
from shoemodel.schemas.keypoints import FOOT_NAMES
from shoemodel.schemas.records import decode_image
from shoemodel.training.data import load_split
from shoemodel.training.lps_keypoints.data import foot_keypoints
from shoemodel.training.metrics.keypoints import keypoint_metrics


def _ground_truth(set_root: str, split: str) -> tuple[Any, np.ndarray, np.ndarray]:
    table = load_split(set_root, ["shoe_image", "keypoints", "width", "height"], split)
    gt = np.stack([foot_keypoints(k) for k in table.column("keypoints").to_pylist()])
    wh = np.stack([table.column("width").to_numpy(), table.column("height").to_numpy()], 1).astype(np.float32)
    return table, gt, wh


def evaluate_predictor(predictor: FootKeypointPredictor, set_root: str, split: str = "test", batch_size: int = 16
                       ) -> dict[str, float]:
    table, gt, wh = _ground_truth(set_root, split)
    preds = []
    for start in range(0, table.num_rows, batch_size):
        imgs = [decode_image(b, "RGB") for b in table.column("shoe_image").slice(start, batch_size).to_pylist()]
        preds.extend(predictor.predict_batch(imgs))
    return keypoint_metrics(np.stack(preds), gt, wh.max(1), FOOT_NAMES)


def mean_position_baseline(set_root: str, split: str = "test") -> dict[str, float]:
    """Predict every test point at its mean training position (relative to image size): the trivial baseline."""
    _, train_gt, train_wh = _ground_truth(set_root, "train")
    rel = train_gt[..., :2] / train_wh[:, None, :]
    present = train_gt[..., 2] > 0
    mean_rel = np.array([rel[present[:, k], k].mean(0) if present[:, k].any() else (0.5, 0.5) for k in range(8)])
    _, gt, wh = _ground_truth(set_root, split)
    pred = mean_rel[None] * wh[:, None, :]
    return keypoint_metrics(pred, gt, wh.max(1), FOOT_NAMES)


def evaluate_lps_keypoints(checkpoint: str, set_root: str, split: str = "test", model_size: str = "tiny",
                           image_size: int = 64, seed: int = 0) -> dict[str, Any]:
    trained = FootKeypointPredictor.from_checkpoint(checkpoint)
    untrained = FootKeypointPredictor.from_config_random(model_size, image_size, seed, flip_test=trained.flip_test,
                                                         crop_to_content=trained.crop_to_content,
                                                         crop_margin=trained.crop_margin)
    return {"trained": evaluate_predictor(trained, set_root, split),
            "untrained": evaluate_predictor(untrained, set_root, split),
            "mean_position": mean_position_baseline(set_root, split)}
