"""Phase 2 samples: (leg pose L_0, foot condition C_p) in the paper's normalisation, with rotation.

Coordinates: P_norm = P / s * 0.9 + 0.1 per axis (s = width or height), missing = exactly 0; the
diffusion runs on 2 * P_norm - 1, so values lie in [-1, 1] like the usual DDPM data range.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from shoemodel.models.lps_diffusion.encoding import encode_pose
from shoemodel.schemas.keypoints import NUM_KEYPOINTS, flip_keypoints
from shoemodel.training.lps_diffusion.config import LegDiffusionConfig


def rotate_keypoints(k: np.ndarray, width: float, height: float, deg: float) -> np.ndarray:
    """Rotate (K, 3) keypoints about the image centre; points that leave the frame become missing."""
    out = np.asarray(k, np.float32).copy()
    present = out[:, 2] > 0
    c = np.array([(width - 1) / 2, (height - 1) / 2], np.float32)
    a = np.deg2rad(deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    xy = (out[:, :2] - c) @ rot.T + c
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1)
    keep = present & inside
    out[:, :2] = np.where(keep[:, None], xy, 0)
    out[~keep, 2] = 0
    return out


class LegPoseDataset(Dataset):
    """Keypoints of the shoe-leg set, held in memory (36 floats per record)."""

    def __init__(self, keypoints: np.ndarray, sizes: np.ndarray, cfg: LegDiffusionConfig, train: bool = True):
        self.kpts = np.asarray(keypoints, np.float32).reshape(-1, NUM_KEYPOINTS, 3)
        self.sizes = np.asarray(sizes, np.float32).reshape(-1, 2)
        self.cfg, self.train = cfg, train

    def __len__(self) -> int:
        return len(self.kpts)

    def __getitem__(self, key: tuple[int, int] | int) -> tuple[torch.Tensor, torch.Tensor]:
        idx, seed = key if isinstance(key, tuple) else (key, 0)
        k, (w, h) = self.kpts[idx], self.sizes[idx]
        if self.train:
            rng = np.random.default_rng(seed)
            if rng.random() < self.cfg.rotate_prob:
                k = rotate_keypoints(k, w, h, float(rng.uniform(-self.cfg.rotate_deg, self.cfg.rotate_deg)))
            if rng.random() < self.cfg.flip_prob:
                k = flip_keypoints(k, w)
        leg, foot = encode_pose(k, w, h)
        return torch.from_numpy(leg), torch.from_numpy(foot)


def collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {"leg": torch.stack([a for a, _ in items]), "foot": torch.stack([b for _, b in items])}


def load_keypoints(set_root: str, split: str, max_records: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, 12, 3) keypoints and (N, 2) (width, height) of a split."""
    from shoemodel.training.data import load_split

    t = load_split(set_root, ["keypoints", "width", "height"], split, max_records)
    k = np.asarray(t.column("keypoints").to_pylist(), np.float32).reshape(-1, NUM_KEYPOINTS, 3)
    wh = np.stack([t.column("width").to_numpy(), t.column("height").to_numpy()], 1).astype(np.float32)
    return k, wh
