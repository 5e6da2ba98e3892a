"""The curation models at their real sizes with random weights (throughput only), and at tiny sizes for the CPU.

- YOLOX-s (depth 0.33, width 0.50; CSPDarknet + PAFPN + decoupled head) exported to ONNX with a dynamic batch,
  in the raw-grid output layout the project's `YoloxOnnxDetector` decodes; `yolox_onnx(..., width=0.25)` is nano-sized.
- ViTPose-H-sized whole-body pose: transformers' VitPoseForPoseEstimation, ViT-H backbone (1280 wide, 32 layers,
  16 heads), 256x192 input, 133-point head.
- SAM ViT-B / ViT-H: segment-anything's Sam built by `shoemodel.models.sam.build_sam`.
- SAM 2.1 hiera-tiny: transformers' Sam2Model with the hiera-tiny image encoder (bare encoder row only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _yolox_net(depth: float, width: float, num_classes: int = 80) -> Any:
    import torch
    from torch import nn

    def conv(c_in: int, c_out: int, k: int = 1, s: int = 1) -> nn.Module:
        return nn.Sequential(nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False), nn.BatchNorm2d(c_out), nn.SiLU())

    class Bottleneck(nn.Module):
        def __init__(self, c: int, shortcut: bool = True):
            super().__init__()
            self.a, self.b, self.shortcut = conv(c, c, 1), conv(c, c, 3), shortcut

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.b(self.a(x))
            return x + y if self.shortcut else y

    class CSP(nn.Module):
        def __init__(self, c_in: int, c_out: int, n: int, shortcut: bool = True):
            super().__init__()
            h = c_out // 2
            self.a, self.b, self.c = conv(c_in, h), conv(c_in, h), conv(2 * h, c_out)
            self.m = nn.Sequential(*[Bottleneck(h, shortcut) for _ in range(n)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.c(torch.cat([self.m(self.a(x)), self.b(x)], 1))

    class SPP(nn.Module):
        def __init__(self, c_in: int, c_out: int):
            super().__init__()
            h = c_in // 2
            self.a, self.b = conv(c_in, h), conv(4 * h, c_out)
            self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in (5, 9, 13))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.a(x)
            return self.b(torch.cat([x, *[p(x) for p in self.pools]], 1))

    class Focus(nn.Module):
        def __init__(self, c_out: int):
            super().__init__()
            self.conv = conv(12, c_out, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1))

    w = [int(c * width) for c in (64, 128, 256, 512, 1024)]
    n = max(round(3 * depth), 1)

    class Yolox(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = Focus(w[0])
            self.dark2 = nn.Sequential(conv(w[0], w[1], 3, 2), CSP(w[1], w[1], n))
            self.dark3 = nn.Sequential(conv(w[1], w[2], 3, 2), CSP(w[2], w[2], 3 * n))
            self.dark4 = nn.Sequential(conv(w[2], w[3], 3, 2), CSP(w[3], w[3], 3 * n))
            self.dark5 = nn.Sequential(conv(w[3], w[4], 3, 2), SPP(w[4], w[4]), CSP(w[4], w[4], n, False))
            self.lat0, self.c3_p4 = conv(w[4], w[3]), CSP(2 * w[3], w[3], n, False)
            self.red1, self.c3_p3 = conv(w[3], w[2]), CSP(2 * w[2], w[2], n, False)
            self.bu2, self.c3_n3 = conv(w[2], w[2], 3, 2), CSP(2 * w[2], w[3], n, False)
            self.bu1, self.c3_n4 = conv(w[3], w[3], 3, 2), CSP(2 * w[3], w[4], n, False)
            hid = w[2]
            self.stems = nn.ModuleList(conv(c, hid) for c in (w[2], w[3], w[4]))
            self.cls = nn.ModuleList(nn.Sequential(conv(hid, hid, 3), conv(hid, hid, 3)) for _ in range(3))
            self.reg = nn.ModuleList(nn.Sequential(conv(hid, hid, 3), conv(hid, hid, 3)) for _ in range(3))
            self.cls_pred = nn.ModuleList(nn.Conv2d(hid, num_classes, 1) for _ in range(3))
            self.reg_pred = nn.ModuleList(nn.Conv2d(hid, 4, 1) for _ in range(3))
            self.obj_pred = nn.ModuleList(nn.Conv2d(hid, 1, 1) for _ in range(3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            up = nn.functional.interpolate
            c3 = self.dark3(self.dark2(self.stem(x)))
            c4 = self.dark4(c3)
            c5 = self.dark5(c4)
            f0 = self.lat0(c5)
            p4 = self.c3_p4(torch.cat([up(f0, scale_factor=2.0), c4], 1))
            f1 = self.red1(p4)
            p3 = self.c3_p3(torch.cat([up(f1, scale_factor=2.0), c3], 1))
            n3 = self.c3_n3(torch.cat([self.bu2(p3), f1], 1))
            n4 = self.c3_n4(torch.cat([self.bu1(n3), f0], 1))
            outs = []
            for i, f in enumerate((p3, n3, n4)):
                h = self.stems[i](f)
                c, r = self.cls[i](h), self.reg[i](h)
                o = torch.cat([self.reg_pred[i](r), self.obj_pred[i](r).sigmoid(), self.cls_pred[i](c).sigmoid()], 1)
                outs.append(o.flatten(2))
            return torch.cat(outs, 2).permute(0, 2, 1)

    return Yolox().eval()


def yolox_onnx(path: Path, depth: float = 0.33, width: float = 0.50, size: int = 416, seed: int = 0) -> Path:
    """A random YOLOX (s: depth 0.33, width 0.50) exported to ONNX, batch dimension dynamic."""
    import torch

    torch.manual_seed(seed)
    net = _yolox_net(depth, width)
    with torch.no_grad():
        torch.onnx.export(net, (torch.zeros(1, 3, size, size),), str(path), input_names=["images"], output_names=["output"],
                          dynamic_axes={"images": {0: "batch"}, "output": {0: "batch"}}, opset_version=17, dynamo=False)
    return path


def vitpose_h(num_labels: int = 133) -> Any:
    """ViTPose-H-sized whole-body model (random weights)."""
    from shoemodel.compat.torchvision import ensure_torchvision

    ensure_torchvision()
    from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation

    backbone = VitPoseBackboneConfig(image_size=[256, 192], patch_size=[16, 16], hidden_size=1280, num_hidden_layers=32,
                                     num_attention_heads=16, mlp_ratio=4, out_indices=[32])
    return VitPoseForPoseEstimation(VitPoseConfig(backbone_config=backbone, num_labels=num_labels,
                                                  use_simple_decoder=False)).eval()


def sam(model_type: str) -> Any:
    """segment-anything SAM vit_b / vit_h (random weights)."""
    from shoemodel.models.sam import MODEL_TYPES, build_sam

    return build_sam(MODEL_TYPES[model_type])


def sam2_hiera_tiny() -> Any:
    """transformers Sam2Model with SAM 2.1 hiera-tiny's image encoder (random weights)."""
    from shoemodel.compat.torchvision import ensure_torchvision

    ensure_torchvision()
    from transformers import Sam2Config, Sam2HieraDetConfig, Sam2Model, Sam2VisionConfig

    hiera = Sam2HieraDetConfig(hidden_size=96, num_attention_heads=1, blocks_per_stage=[1, 2, 7, 2],
                               embed_dim_per_stage=[96, 192, 384, 768], num_attention_heads_per_stage=[1, 2, 4, 8],
                               window_size_per_stage=[8, 4, 14, 7], global_attention_blocks=[5, 7, 9],
                               window_positional_embedding_background_size=[7, 7])
    vision = Sam2VisionConfig(backbone_config=hiera, backbone_channel_list=[768, 384, 192, 96])
    return Sam2Model(Sam2Config(vision_config=vision)).eval()
