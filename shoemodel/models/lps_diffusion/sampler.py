"""Phase 2 inference: N diverse leg poses for one shoe's 8 foot keypoints (diffusers DDPMScheduler, T=25)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from shoemodel.models.checkpoint import read_model_folder, write_model_folder
from shoemodel.models.device import resolve_device
from shoemodel.models.lps_diffusion.encoding import encode_foot
from shoemodel.models.lps_diffusion.model import LEG_DIM, LegPoseDenoiser
from shoemodel.models.runtime import prepare_imports
from shoemodel.schemas.keypoints import FOOT_INDICES, LEG_INDICES, NUM_KEYPOINTS
from shoemodel.schemas.normalize import OFFSET, denormalize_coords

#: Position of each ankle within the 12 keypoints, and within the 8 foot keypoints.
_ANKLES_12, _ANKLES_8 = (4, 5), (0, 4)


def make_scheduler(num_train_timesteps: int = 25, beta_schedule: str = "squaredcos_cap_v2") -> Any:
    prepare_imports()
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule,
                         prediction_type="epsilon", clip_sample=True, clip_sample_range=1.0)


class LegPoseSampler:
    """Denoiser + scheduler; `sample` returns full 12-keypoint poses in pixel coordinates."""

    def __init__(self, model: LegPoseDenoiser, scheduler_config: dict[str, Any], device: str | None = None,
                 ankles: str = "given"):
        self.device = device or resolve_device()
        self.model = model.to(self.device).eval()
        self.scheduler_config = dict(scheduler_config)
        if ankles not in ("given", "generated"):
            raise ValueError("ankles must be 'given' (phase-1 ankles, as the paper concatenates C_p) or 'generated'")
        self.ankles = ankles

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None, ankles: str = "given") -> LegPoseSampler:
        cfg, state = read_model_folder(path)
        model = LegPoseDenoiser(**cfg["model"])
        model.load_state_dict(state)
        return cls(model, cfg["scheduler"], device, ankles)

    def save(self, path: str | Path) -> Path:
        return write_model_folder(path, {"kind": "lps_diffusion", "model": self.model.config,
                                         "scheduler": self.scheduler_config}, self.model.state_dict())

    @torch.no_grad()
    def sample_normalized(self, conditions: np.ndarray, seed: int) -> np.ndarray:
        """Run the reverse process for a batch of (B, 16) conditions; returns (B, 12) in [-1, 1]."""
        sched = make_scheduler(**self.scheduler_config)
        sched.set_timesteps(sched.config.num_train_timesteps)
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        cond = torch.as_tensor(np.asarray(conditions, np.float32), device=self.device)
        x = torch.randn((cond.shape[0], LEG_DIM), generator=gen).to(self.device)
        for t in sched.timesteps:
            eps = self.model(x, t.to(self.device), cond)
            x = sched.step(eps.cpu(), t, x.cpu(), generator=gen).prev_sample.to(self.device)
        return x.cpu().numpy()

    def sample(self, foot8: np.ndarray, image_size: tuple[int, int], n: int, seed: int, *,
               min_score: float = 0.0) -> np.ndarray:
        """(n, 12, 3) poses: generated hips/knees (and ankles when the foot lacks them) plus the given foot points.

        `image_size` is (width, height) of the image the foot keypoints live in; score 1 marks a generated
        point, 0 a point the model left out of frame (paper: missing = 0). Foot points scoring <= `min_score`
        (phase 1's peak heatmap value) count as missing and come back as zeros.
        """
        f = np.asarray(foot8, np.float32).copy()
        if f.shape != (8, 3):
            raise ValueError(f"foot8 must be (8, 3), got {f.shape}")
        f[f[:, 2] <= min_score] = 0
        w, h = float(image_size[0]), float(image_size[1])
        cond = np.repeat(encode_foot(f, w, h)[None], n, axis=0)
        legs = (self.sample_normalized(cond, seed) + 1) / 2  # back to the paper's [0, 1] normalisation
        pix, _ = denormalize_coords(legs.reshape(n, 6, 2), (w, h))
        # a real point has both coordinates >= 0.1 after normalisation; one coordinate near 0 is a
        # half-formed "missing" and counts as missing
        vis = (legs.reshape(n, 6, 2) >= OFFSET / 2).all(-1)
        pix = np.where(vis[..., None], pix, 0.0)
        out = np.zeros((n, NUM_KEYPOINTS, 3), np.float32)
        out[:, list(LEG_INDICES), :2] = pix
        out[:, list(LEG_INDICES), 2] = vis.astype(np.float32)
        for j8, j12 in enumerate(FOOT_INDICES):
            if j12 not in _ANKLES_12:
                out[:, j12] = f[j8]
        if self.ankles == "given":
            for a12, a8 in zip(_ANKLES_12, _ANKLES_8, strict=True):
                if f[a8, 2] > 0:
                    out[:, a12] = f[a8]
        return out
