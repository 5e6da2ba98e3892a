"""LpS phase 2: normalisation, rotation augmentation, sampler shape / determinism, checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest

from shoemodel.models.lps_diffusion.encoding import encode_pose
from shoemodel.models.lps_diffusion.sampler import LegPoseSampler
from shoemodel.schemas.keypoints import FOOT_INDICES
from shoemodel.training.lps_diffusion.config import LegDiffusionConfig
from shoemodel.training.lps_diffusion.data import rotate_keypoints
from tests.helpers.tiny_models import tiny_leg_pose_sampler


def _foot8() -> np.ndarray:
    f = np.zeros((8, 3), np.float32)
    f[:, :2] = [[40, 100], [30, 110], [35, 112], [45, 108], [80, 100], [90, 110], [85, 112], [75, 108]]
    f[:, 2] = 1
    return f


def test_encode_pose_uses_paper_normalisation_and_zero_for_missing():
    k = np.zeros((12, 3), np.float32)
    k[4] = (50, 100, 1)  # left ankle present at (50, 100) in a 100 x 200 image
    leg, foot = encode_pose(k, 100, 200)
    # P/s*0.9+0.1 -> (0.55, 0.55), then 2x-1 for the diffusion; a missing point is 0 -> -1
    assert leg[8:10] == pytest.approx([0.1, 0.1])
    assert leg[0] == pytest.approx(-1.0)
    assert foot[0:2] == pytest.approx([0.55, 0.55]) and foot[2:].tolist() == [0.0] * 14


def test_rotation_keeps_the_centre_and_drops_points_leaving_the_frame():
    k = np.array([[49.5, 49.5, 1], [99, 0, 1], [50, 10, 1]] + [[0, 0, 0]] * 9, np.float32)
    r = rotate_keypoints(k, 100, 100, 10)
    assert r[0, :2] == pytest.approx([49.5, 49.5])
    assert r[1].tolist() == [0, 0, 0]  # the corner rotates out of the image
    assert r[2, 2] == 1 and np.linalg.norm(r[2, :2] - [49.5, 49.5]) == pytest.approx(np.linalg.norm([0.5, 39.5]), rel=1e-4)


def test_sampler_shape_and_seed_determinism():
    s = tiny_leg_pose_sampler()
    a = s.sample(_foot8(), (128, 128), n=5, seed=1)
    b = s.sample(_foot8(), (128, 128), n=5, seed=1)
    c = s.sample(_foot8(), (128, 128), n=5, seed=2)
    assert a.shape == (5, 12, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len({tuple(p[0]) for p in a}) > 1  # n draws differ from each other
    # the given foot points (ankles included, by default) are passed through
    np.testing.assert_array_equal(a[:, list(FOOT_INDICES)], np.repeat(_foot8()[None], 5, 0))


def test_sampler_checkpoint_round_trip(tmp_path):
    s = tiny_leg_pose_sampler(seed=3)
    s.save(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "config.json").exists() and (tmp_path / "ckpt" / "model.safetensors").exists()
    t = LegPoseSampler.from_checkpoint(tmp_path / "ckpt")
    np.testing.assert_array_equal(s.sample(_foot8(), (96, 128), 3, 0), t.sample(_foot8(), (96, 128), 3, 0))


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        LegPoseSampler.from_checkpoint(tmp_path)


def test_phase2_learns_a_pose_distribution(shoe_leg_set, tmp_path):
    """A short run must bring generated poses closer to held-out poses than random or mean poses."""
    from shoemodel.training.lps_diffusion.evaluate import evaluate_lps_diffusion
    from shoemodel.training.lps_diffusion.train import train_lps_diffusion

    cfg = LegDiffusionConfig(train_set=str(shoe_leg_set), output_dir=str(tmp_path / "m"), metrics_dir=str(tmp_path / "x"),
                             hidden_size=64, num_blocks=2, time_embed_dim=32, steps=300, batch_size=32,
                             learning_rate=2e-3, warmup_steps=20, ema_decay=0.9, mixed_precision="no", num_workers=0,
                             progress=False)
    train_lps_diffusion(cfg)
    r = evaluate_lps_diffusion(cfg.output_dir, str(shoe_leg_set), samples=4)
    assert r["generated"]["mmd"] < r["random"]["mmd"] and r["generated"]["mmd"] < r["mean_pose"]["mmd"]
    assert r["generated"]["ankle_agreement"] > r["random"]["ankle_agreement"]


def test_low_score_foot_points_count_as_missing():
    s = tiny_leg_pose_sampler()
    f = _foot8()
    f[4:, 2] = 0.1  # right foot barely detected
    out = s.sample(f, (128, 128), n=2, seed=0, min_score=0.3)
    assert (out[:, [9, 10, 11]] == 0).all()  # right toes and heel dropped
    np.testing.assert_array_equal(out[0, 4], f[0])  # left ankle given
