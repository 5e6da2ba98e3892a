"""Shoe prior training samples: foot crops of the CCP train photos with their footwear masks, jittered.

Each photo is cut once into a context square twice the crop's side (at twice the crop's pixels, so the same
scale), around the labelled person's feet as inference crops them (`crop.crop_square` on the pose's points);
a sample then warps a jittered crop (shift, scale, flip) and colour-jitters it. The labelled person is the pose
person whose crop holds the most footwear pixels; where pose kept no one with footwear in its crop (or with
`crop_source: gt_box`) the crop is centred on the footwear's box, drawn as `crop_square` would from points at its
corners, so the model also learns shoes its crop does not centre. Each sample also carries a per-pixel loss weight:
1, or 1 + `hard_negative_weight` on the labels that look like shoes to a small model (ccp.HARD_NEGATIVES).
With `negative_prob` > 0 a sample is, that often, the same square one side higher (shins and knees: mostly no shoe,
its footwear labels as they are): a prior that has seen legs without shoes says "no shoe" on a leg that pose took for a
foot, so its sureness can drop a mask that is off the feet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from shoemodel.models.shoe_prior import crop as C
from shoemodel.training.common import rng_for
from shoemodel.training.shoe_prior import ccp


def labelled_person(entry: dict[str, Any], gt: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(keypoints 12 x 3, box 5) of the pose person whose feet crop holds most footwear pixels, or None."""
    if entry.get("status") != "kept":
        return None
    ks = np.asarray(entry.get("keypoints") or [], np.float32).reshape(-1, 12, 3)
    bs = np.asarray(entry.get("person_box") or [], np.float32).reshape(-1, 5)
    best, score = None, 0
    for k, b in zip(ks, bs):
        sq = C.crop_square(k, b)
        if sq is None:
            continue
        cx, cy, side = sq
        x1, y1 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
        n = int(gt[y1:int(cy + side / 2), x1:int(cx + side / 2)].sum())
        if n > score:
            best, score = (k, b), n
    return best


def gt_square(gt: np.ndarray) -> tuple[float, float, float]:
    """The crop `crop_square` would make from foot points at the footwear's box corners (a box person: 4 x its height)."""
    ys, xs = np.nonzero(gt)
    k = np.zeros((12, 3), np.float32)
    for j, (x, y) in zip(C.FOOT_POINTS[:4], ((xs.min(), ys.min()), (xs.max(), ys.max()), (xs.min(), ys.max()), (xs.max(), ys.min()))):
        k[j] = (x, y, 1)
    return C.crop_square(k, None)  # type: ignore[return-value]


class ShoeCropDataset(Dataset):
    """Items indexed by (photo index, augmentation seed): {'pixels': (C, S, S) float, 'mask': (1, S, S) float}."""

    def __init__(self, root: str, ids: list[str], poses: dict[str, dict[str, Any]], size: int, crop_source: str = "pose",
                 points: bool = False, train: bool = True, jitter_shift: float = 0.12, jitter_scale: float = 0.25,
                 flip_prob: float = 0.5, color_jitter: float = 0.25, hard_negative_weight: float = 0.0,
                 negative_prob: float = 0.0):
        if crop_source not in ("pose", "gt_box"):
            raise ValueError(f"train.shoe_prior.crop_source must be pose or gt_box, got {crop_source!r}")
        self.size, self.points, self.train = size, points, train
        self.jitter_shift, self.jitter_scale, self.flip_prob, self.color_jitter = jitter_shift, jitter_scale, flip_prob, color_jitter
        self.hard_negative_weight, self.negative_prob = hard_negative_weight, negative_prob
        self.ids, self.ctx, self.masks, self.hard, self.kpts, self.skipped = [], [], [], [], [], {}
        self.legs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (context, footwear, hard) one side higher
        self.from_pose = 0
        big = 2 * size
        for i in ids:
            image, labels = ccp.read_photo(root, i)
            gt = ccp.footwear_mask(labels)
            if not gt.any():
                self.skipped[i] = "no footwear pixels"
                continue
            person = labelled_person(poses.get(i, {}), gt) if crop_source == "pose" else None
            if person is not None:
                square, k = C.crop_square(*person), person[0]
                self.from_pose += 1
            else:
                square, k = gt_square(gt), np.zeros((12, 3), np.float32)
            cx, cy, side = square
            m = C.crop_matrix((cx, cy, 2 * side), big)
            self.ids.append(i)
            self.ctx.append(C.warp(image, m, big))
            self.masks.append(C.warp(gt.astype(np.uint8), m, big, nearest=True))
            self.hard.append(C.warp(ccp.hard_negative_mask(labels).astype(np.uint8), m, big, nearest=True))
            if negative_prob > 0:
                up = C.crop_matrix((cx, cy - side, 2 * side), big)
                self.legs.append((C.warp(image, up, big), C.warp(gt.astype(np.uint8), up, big, nearest=True),
                                  C.warp(ccp.hard_negative_mask(labels).astype(np.uint8), up, big, nearest=True)))
            kk = k.copy()
            kk[:, :2] = (np.c_[k[:, :2], np.ones(len(k))] @ m.T) if len(k) else kk[:, :2]
            self.kpts.append(kk)

    def __len__(self) -> int:
        return len(self.ids)

    def matrix(self, rng: np.random.Generator | None) -> tuple[np.ndarray, bool]:
        """Context square (2S px) -> crop (S px): the centred crop, or a jittered one."""
        s = self.size
        a, dx, dy, flip = 1.0, 0.0, 0.0, False
        if rng is not None:
            a = float(np.exp(rng.uniform(-self.jitter_scale, self.jitter_scale)))
            dx, dy = (rng.uniform(-self.jitter_shift, self.jitter_shift, 2) * s).tolist()
            flip = bool(rng.random() < self.flip_prob)
        m = np.array([[a, 0, s / 2 - a * s + dx], [0, a, s / 2 - a * s + dy]], np.float32)
        if flip:
            m = np.array([[-1, 0, s], [0, 1, 0]], np.float32) @ np.vstack([m, [0, 0, 1]])
        return m.astype(np.float32), flip

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        idx, seed = key if isinstance(key, tuple) else (key, 0)
        rng = rng_for(seed, idx) if self.train else None
        m, _ = self.matrix(rng)
        ctx, gt, hard = self.ctx[idx], self.masks[idx], self.hard[idx]
        if rng is not None and self.legs and rng.random() < self.negative_prob:
            ctx, gt, hard = self.legs[idx]
        img = C.warp(ctx, m, self.size).astype(np.float32) / 255
        mask = C.warp(gt, m, self.size, nearest=True).astype(np.float32)
        weight = 1 + self.hard_negative_weight * C.warp(hard, m, self.size, nearest=True).astype(np.float32)
        if rng is not None and self.color_jitter > 0:
            j = self.color_jitter
            img = img * rng.uniform(1 - j, 1 + j)  # brightness
            mean = img.mean()
            img = (img - mean) * rng.uniform(1 - j, 1 + j) + mean  # contrast
            grey = img.mean(2, keepdims=True)
            img = (img - grey) * rng.uniform(1 - j, 1 + j) + grey  # saturation
            img = np.clip(img, 0, 1)
        chans = [img.transpose(2, 0, 1)]
        if self.points:
            chans.append(C.points_channel(self.kpts[idx], m, self.size)[None])
        return {"pixels": torch.from_numpy(np.concatenate(chans).astype(np.float32)),
                "mask": torch.from_numpy(mask[None]), "weight": torch.from_numpy(weight[None])}


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
