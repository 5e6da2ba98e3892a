"""LpS phase 1: heatmap encoding/decoding, the flip test's left/right swap, augmentation, predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from shoemodel.models import geometry as G
from shoemodel.models.lps_keypoints import heatmaps as H
from shoemodel.schemas.keypoints import FOOT_FLIP_PERMUTATION, flip_keypoints
from shoemodel.training import augment as A
from shoemodel.training.lps_keypoints.config import FootKeypointsConfig
from shoemodel.training.lps_keypoints.data import augment_sample


def _foot(size: int = 64) -> np.ndarray:
    k = np.zeros((8, 3), np.float32)
    k[:4, :2] = [[12.3, 40.0], [5.5, 50.2], [9.0, 52.0], [16.0, 47.0]]  # left foot, image left side
    k[4:, :2] = [[44.0, 41.0], [57.2, 49.0], [53.0, 52.5], [40.5, 48.0]]  # right foot
    k[:, 2] = 1
    return k


def test_encode_decode_round_trip_sub_pixel():
    k = _foot()
    heat, w = H.encode(k, 64, 32, sigma=1.5)
    assert heat.shape == (8, 32, 32) and w.tolist() == [1.0] * 8
    dec = H.decode(heat, 64)
    assert np.abs(dec[:, :2] - k[:, :2]).max() < 1.0
    assert dec[:, 2].min() > 0.8


def test_missing_keypoint_gets_zero_weight_and_empty_map():
    k = _foot()
    k[3] = 0
    heat, w = H.encode(k, 64, 32, sigma=1.5)
    assert w[3] == 0 and heat[3].max() == 0


def test_flip_test_swaps_left_and_right():
    k = _foot()
    # heatmaps a perfect model would predict for the mirrored image
    mirrored = flip_keypoints(k, 64, FOOT_FLIP_PERMUTATION)
    heat_m, _ = H.encode(mirrored, 64, 32, sigma=1.5)
    back = H.flip_heatmaps(torch.from_numpy(heat_m)[None])[0].numpy()
    dec = H.decode(back, 64)
    assert np.abs(dec[:, :2] - k[:, :2]).max() < 1.0
    # without the channel swap the left ankle would land on the right ankle
    no_swap = H.decode(torch.from_numpy(heat_m).flip(-1).numpy(), 64)
    assert np.abs(no_swap[0, :2] - k[4, :2]).max() < 1.0


def test_flip_test_averaging_of_an_equivariant_model_changes_nothing():
    class Mirror(torch.nn.Module):
        """Returns the ground-truth heatmaps of whichever image it is shown."""

        def forward(self, pixel_values):
            flipped = bool(pixel_values[0, 0, 0, 0] < 0)
            kk = flip_keypoints(_foot(), 64, FOOT_FLIP_PERMUTATION) if flipped else _foot()
            heat, _ = H.encode(kk, 64, 32, 1.5)
            return type("O", (), {"heatmaps": torch.from_numpy(heat)[None]})()

    x = torch.ones(1, 3, 64, 64)
    x[..., -1] = -1  # marks the flipped copy in its top-left pixel
    avg = H.predict_heatmaps(Mirror(), x, flip_test=True)[0].numpy()
    assert np.abs(H.decode(avg, 64)[:, :2] - _foot()[:, :2]).max() < 1.0


def test_warp_points_follow_the_warped_pixels():
    img = np.zeros((64, 64, 3), np.uint8)
    img[20, 30] = 255
    m, _ = A.random_affine(64, np.random.default_rng(3), rotate_prob=1.0, rotate_deg=15, scale_range=(0.8, 1.2),
                           translate=0.1)
    out = G.warp_image(img, m, 64)
    y, x = np.unravel_index(out[..., 0].argmax(), out.shape[:2])
    p = G.warp_points(np.array([[30.0, 20.0, 1.0]]), m)
    assert abs(p[0, 0] - x) <= 1 and abs(p[0, 1] - y) <= 1


def test_augmentation_flip_swaps_feet():
    cfg = FootKeypointsConfig(image_size=64, crop_to_content=False, rotate_prob=0, scale_min=1, scale_max=1, translate=0,
                              flip_prob=1.0, brightness=0, contrast=0, saturation=0)
    img = np.zeros((64, 64, 3), np.uint8)
    k = _foot()
    for (x, y, _), v in zip(k, range(10, 90, 10), strict=False):
        img[int(round(y)), int(round(x))] = v
    out_img, out_k = augment_sample(img, k, cfg, np.random.default_rng(0))
    # new left ankle = old right ankle, mirrored; the pixel moved with it
    assert out_k[0, 0] == pytest.approx(63 - k[4, 0]) and out_k[0, 1] == pytest.approx(k[4, 1])
    assert out_img[int(round(out_k[0, 1])), int(round(out_k[0, 0])), 0] == 50  # value painted at the right ankle


def test_predictor_returns_input_pixel_coordinates():
    from shoemodel.models.lps_keypoints.predictor import FootKeypointPredictor

    p = FootKeypointPredictor.from_config_random("tiny", 64)
    img = np.zeros((90, 120, 3), np.uint8)
    img[60:80, 20:100] = 200
    k = p.predict(img)
    assert k.shape == (8, 3) and k.dtype == np.float32
    assert (k[:, 0] >= -1).all() and (k[:, 0] <= 121).all() and (k[:, 1] >= -1).all() and (k[:, 1] <= 91).all()


@pytest.mark.slow
def test_phase1_learns_above_mean_position(tmp_path):
    from shoemodel.training.lps_keypoints.evaluate import evaluate_lps_keypoints
    from shoemodel.training.lps_keypoints.train import train_lps_keypoints
    from tests.helpers.sets import write_synthetic_set

    data = write_synthetic_set(tmp_path / "shoe_leg", "shoe_leg", 160, 128)
    cfg = FootKeypointsConfig(train_set=str(data), output_dir=str(tmp_path / "m"), metrics_dir=str(tmp_path / "x"),
                              model_size="tiny", image_size=64, steps=300, batch_size=16, learning_rate=1e-3,
                              weight_decay=0.01, warmup_steps=20, mixed_precision="no", num_workers=0, progress=False)
    train_lps_keypoints(cfg)
    r = evaluate_lps_keypoints(cfg.output_dir, str(data))
    assert r["trained"]["PCK@0.05"] > r["mean_position"]["PCK@0.05"] + 10
    assert r["trained"]["PCK@0.05"] > r["untrained"]["PCK@0.05"] + 10
