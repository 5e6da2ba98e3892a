"""The shoe prior's network: a tiny UNet (about 0.1-0.4 M parameters) from a foot crop to shoe logits.

Small enough to ship in the repository (fp16 safetensors well under 2 MB) and to run on a CPU at curation speed;
the crop it sees is made by `crop.foot_crop` from the pose's foot points (see there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass
class PriorArch:
    """What a checkpoint needs to be rebuilt: input size, channel widths, extra input channels."""

    size: int = 96  # crop side in pixels
    widths: list[int] = field(default_factory=lambda: [16, 32, 48])
    stem: int = 2  # the UNet runs at size / stem; a light full-resolution branch sharpens the edges (1: none)
    fine: int = 8  # channels of the full-resolution branch
    points_channel: bool = False  # a 4th input channel: Gaussian blobs on the foot points

    def as_dict(self) -> dict:
        return asdict(self)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyUNet(nn.Module):
    """Encoder of `widths` (each halves the size), a mirrored decoder with skips, one logit per pixel."""

    def __init__(self, arch: PriorArch):
        super().__init__()
        self.arch = arch
        cin = 4 if arch.points_channel else 3
        w = arch.widths
        self.stem = nn.Sequential(nn.Conv2d(cin, w[0], 3, stride=arch.stem, padding=1, bias=False), nn.BatchNorm2d(w[0]),
                                  nn.ReLU(inplace=True))
        self.down = nn.ModuleList([_block(w[0] if i == 0 else w[i - 1], w[i]) for i in range(len(w))])
        self.up = nn.ModuleList([_block(w[i + 1] + w[i], w[i]) for i in range(len(w) - 1)])
        self.fine = nn.Sequential(nn.Conv2d(cin, arch.fine, 3, padding=1, bias=False), nn.BatchNorm2d(arch.fine),
                                  nn.ReLU(inplace=True)) if arch.stem > 1 else None
        f = w[0] + (arch.fine if self.fine is not None else 0)
        self.head = nn.Sequential(nn.Conv2d(f, arch.fine, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(arch.fine, 1, 1))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3 or 4, S, S) with RGB in [0, 1] -> (B, 1, S, S) logits."""
        rgb = (x[:, :3] - self.mean) / self.std
        x = torch.cat([rgb, x[:, 3:]], 1)
        h = self.stem(x)
        skips = []
        for i, blk in enumerate(self.down):
            h = blk(h if i == 0 else nn.functional.max_pool2d(h, 2))
            skips.append(h)
        for i in reversed(range(len(self.up))):
            h = nn.functional.interpolate(h, size=skips[i].shape[-2:], mode="bilinear", align_corners=False)
            h = self.up[i](torch.cat([h, skips[i]], 1))
        if self.fine is not None:
            h = nn.functional.interpolate(h, size=x.shape[-2:], mode="bilinear", align_corners=False)
            h = torch.cat([h, self.fine(x)], 1)
        return self.head(h)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
