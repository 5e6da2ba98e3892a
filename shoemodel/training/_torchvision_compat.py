"""Make `import torchvision` work on CPU torch when its compiled ops are missing.

The torchvision wheel that pip pairs with torch 2.13 CPU is a CUDA build whose C++ ops fail to load;
its import then dies registering fake kernels for `torchvision::nms` / `qnms`, and transformers'
Segformer / VitPose imports die with it. We define those two ops with pure-torch kernels, only when
the compiled ones are absent, before anything imports torchvision. We use no torchvision op ourselves.
"""

from __future__ import annotations

import sys

import torch

_LIB: torch.library.Library | None = None


def _op_exists(name: str) -> bool:
    try:
        return getattr(torch.ops.torchvision, name).default is not None
    except (AttributeError, RuntimeError):
        return False


def _nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS in pure torch (boxes x1, y1, x2, y2); returns kept indices by descending score."""
    order = scores.argsort(descending=True)
    boxes = dets[order]
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    keep: list[int] = []
    suppressed = torch.zeros(len(order), dtype=torch.bool, device=dets.device)
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        lt = torch.maximum(boxes[i, :2], boxes[i + 1:, :2])
        rb = torch.minimum(boxes[i, 2:], boxes[i + 1:, 2:])
        inter = (rb - lt).clamp(min=0).prod(dim=1)
        iou = inter / (area[i] + area[i + 1:] - inter).clamp(min=1e-12)
        suppressed[i + 1:] |= iou > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long, device=dets.device)]


def ensure_torchvision_importable() -> bool:
    """Register fallback `torchvision::nms`/`qnms` if missing; returns True when a fallback was added."""
    global _LIB
    if _LIB is not None or "torchvision" in sys.modules:
        return False
    try:
        import importlib.util

        if importlib.util.find_spec("torchvision") is None:
            return False
    except ValueError:
        return False
    if _op_exists("nms"):
        return False
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.impl("nms", _nms, "CompositeExplicitAutograd")
    lib.impl("qnms", _nms, "CompositeExplicitAutograd")
    _LIB = lib
    return True
