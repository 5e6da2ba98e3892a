"""Phase 2 evaluation: are generated leg poses plausible, diverse, faithful to the foot, and distributed
like held-out poses? Everything is compared with a random baseline and a mean-pose baseline."""

from __future__ import annotations

from typing import Any

import numpy as np

from shoemodel.models.lps_diffusion.encoding import encode_pose
from shoemodel.models.lps_diffusion.sampler import LegPoseSampler
from shoemodel.schemas.keypoints import FOOT_INDICES, LEG_INDICES
from shoemodel.training.lps_diffusion.data import load_keypoints
from shoemodel.training.metrics import poses as P


def _iso(k: np.ndarray, wh: np.ndarray) -> np.ndarray:
    """Pixel keypoints (N, K, 3) -> isotropic units (divided by each image's longer side)."""
    out = np.asarray(k, np.float64).copy()
    out[..., :2] /= np.asarray(wh, np.float64).max(1)[:, None, None]
    return out


def _vectors(k12: np.ndarray, wh: np.ndarray) -> np.ndarray:
    """Leg vectors in the diffusion's space (paper normalisation, missing = 0, then 2x - 1)."""
    return np.stack([encode_pose(k, w, h)[0] for k, (w, h) in zip(k12, wh, strict=True)])


def pose_report(poses12: np.ndarray, wh: np.ndarray, *, given_foot8: np.ndarray, ref_train: np.ndarray, ref_wh: np.ndarray,
                test12: np.ndarray, bandwidth: float, ankle_threshold: float = 0.05, samples_per_condition: int = 1) -> dict[str, float]:
    """Metrics of candidate poses (N*S, 12, 3) for N test conditions (S samples each, condition-major)."""
    leg = _iso(poses12[:, list(LEG_INDICES)], wh)
    ref_leg = _iso(ref_train[:, list(LEG_INDICES)], ref_wh)
    foot = _iso(given_foot8, wh)
    vec = _vectors(poses12, wh)
    first = vec[::samples_per_condition]
    test_vec = _vectors(test12, wh[::samples_per_condition])
    out = {
        "mmd": P.mmd_rbf(first, test_vec, bandwidth),
        "bone_ratio_plausible": P.within_range(P.bone_ratios(leg), P.bone_ratios(ref_leg)),
        "knee_angle_plausible": P.within_range(P.knee_angles(leg), P.knee_angles(ref_leg)),
        "ankle_agreement": P.ankle_agreement(leg, foot, ankle_threshold),
        "present_rate": float((leg[..., 2] > 0).mean()),
        "best_of_n_error": float(np.mean(np.min(np.linalg.norm(
            vec.reshape(len(test_vec), samples_per_condition, -1) - test_vec[:, None], axis=-1), axis=1))),
    }
    if samples_per_condition > 1:
        out["diversity"] = P.diversity(vec.reshape(len(test_vec), samples_per_condition, -1))
    return out


def evaluate_lps_diffusion(checkpoint: str, set_root: str, split: str = "test", samples: int = 8, seed: int = 0
                           ) -> dict[str, Any]:
    """Generated poses vs held-out `split` poses; baselines: uniform random poses and the training-mean pose."""
    train_k, train_wh = load_keypoints(set_root, "train")
    test_k, test_wh = load_keypoints(set_root, split)
    # The sampler's own ankles are scored against the foot, so keep them ("generated").
    sampler = LegPoseSampler.from_checkpoint(checkpoint, device="cpu", ankles="generated")
    gen = np.concatenate([sampler.sample(k[list(FOOT_INDICES)], (w, h), samples, seed + i)
                          for i, (k, (w, h)) in enumerate(zip(test_k, test_wh, strict=True))])
    wh_rep = np.repeat(test_wh, samples, axis=0)
    bandwidth = P.median_bandwidth(_vectors(test_k, test_wh), _vectors(train_k, train_wh))
    rng = np.random.default_rng(seed)
    rand = np.repeat(test_k, samples, axis=0).copy()
    for i, (w, h) in enumerate(wh_rep):
        rand[i, list(LEG_INDICES), 0] = rng.uniform(0, w - 1, 6)
        rand[i, list(LEG_INDICES), 1] = rng.uniform(0, h - 1, 6)
        rand[i, list(LEG_INDICES), 2] = 1
    rel = train_k[..., :2] / train_wh[:, None, :]
    present = train_k[..., 2] > 0
    mean = np.repeat(test_k, samples, axis=0).copy()
    for j in LEG_INDICES:
        m = rel[present[:, j], j].mean(0) if present[:, j].any() else np.array([0.5, 0.5])
        mean[:, j, :2] = m * wh_rep
        mean[:, j, 2] = 1
    given = np.repeat(test_k[:, list(FOOT_INDICES)], samples, axis=0)
    common = dict(given_foot8=given, ref_train=train_k, ref_wh=train_wh, test12=test_k, bandwidth=bandwidth, samples_per_condition=samples)
    report = {"generated": pose_report(gen, wh_rep, **common), "random": pose_report(rand, wh_rep, **common),
              "mean_pose": pose_report(mean, wh_rep, **common)}
    # What a perfect model would score: real training poses (one per test condition) vs held-out poses ...
    pick = np.random.default_rng(seed + 1).choice(len(train_k), len(test_k), replace=len(train_k) < len(test_k))
    report["real_poses_reference"] = {"mmd": P.mmd_rbf(_vectors(train_k[pick], train_wh[pick]),
                                                        _vectors(test_k, test_wh), bandwidth)}
    # ... and how often real held-out poses pass the plausibility checks (their ceiling).
    test_leg, ref_leg = _iso(test_k[:, list(LEG_INDICES)], test_wh), _iso(train_k[:, list(LEG_INDICES)], train_wh)
    report["real_poses_reference"]["bone_ratio_plausible"] = P.within_range(P.bone_ratios(test_leg), P.bone_ratios(ref_leg))
    report["real_poses_reference"]["knee_angle_plausible"] = P.within_range(P.knee_angles(test_leg), P.knee_angles(ref_leg))
    report["real_poses_reference"]["present_rate"] = float((test_leg[..., 2] > 0).mean())
    report["num_conditions"] = len(test_k)
    return report
