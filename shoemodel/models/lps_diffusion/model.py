"""The ε-network of LpS phase 2: an MLP over the 6 leg keypoints' coordinates, conditioned on the 8 foot
keypoints and the timestep (paper §3.2, Eq. 1). Timestep embedding from diffusers."""

from __future__ import annotations

import torch
from torch import nn

from shoemodel.models.runtime import prepare_imports

LEG_DIM = 12  # 6 points x (x, y)
FOOT_DIM = 16  # 8 points x (x, y)


class _Block(nn.Module):
    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, width * 2), nn.SiLU(), nn.Dropout(dropout), nn.Linear(width * 2, width))
        self.emb = nn.Linear(width, width * 2)  # FiLM from the (time + condition) embedding

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.emb(emb).chunk(2, dim=-1)
        return h + self.ff(self.norm(h) * (1 + scale) + shift)


class LegPoseDenoiser(nn.Module):
    """ε_θ(L_t, t, C_p): residual MLP with FiLM conditioning."""

    def __init__(self, hidden_size: int = 512, num_blocks: int = 4, time_embed_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        prepare_imports()
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps

        self.config = dict(hidden_size=hidden_size, num_blocks=num_blocks, time_embed_dim=time_embed_dim, dropout=dropout)
        self.time_proj = Timesteps(time_embed_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(time_embed_dim, hidden_size)
        self.cond_embed = nn.Sequential(nn.Linear(FOOT_DIM, hidden_size), nn.SiLU(), nn.Linear(hidden_size, hidden_size))
        self.inp = nn.Linear(LEG_DIM + FOOT_DIM, hidden_size)
        self.blocks = nn.ModuleList(_Block(hidden_size, dropout) for _ in range(num_blocks))
        self.out = nn.Sequential(nn.LayerNorm(hidden_size), nn.SiLU(), nn.Linear(hidden_size, LEG_DIM))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        t = timestep.expand(sample.shape[0]) if timestep.ndim == 0 else timestep
        emb = self.time_embed(self.time_proj(t).to(sample.dtype)) + self.cond_embed(condition)
        h = self.inp(torch.cat([sample, condition], dim=-1))
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)
