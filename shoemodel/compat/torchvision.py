"""Make `import torchvision` work when its compiled ops do not match the installed CPU torch.

With torch==2.13.0 (CPU) pip installs a torchvision build whose C++ ops are missing, and the
import fails on `torchvision::nms`. ultralytics and segment-anything import torchvision, so we
register pure-torch `nms` and `qnms` (the two ops torchvision's import needs) before the first import. The patch is
narrow: it only acts when the compiled op is absent, and is a no-op otherwise.
"""

from __future__ import annotations

import torch

_DONE = False


def _nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS (same result as torchvision.ops.nms), indices sorted by decreasing score."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    b = boxes.float()
    order = scores.argsort(descending=True)
    areas = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    keep: list[int] = []
    suppressed = torch.zeros(len(b), dtype=torch.bool, device=b.device)
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        xx1 = torch.maximum(b[i, 0], b[:, 0])
        yy1 = torch.maximum(b[i, 1], b[:, 1])
        xx2 = torch.minimum(b[i, 2], b[:, 2])
        yy2 = torch.minimum(b[i, 3], b[:, 3])
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (areas[i] + areas - inter).clamp(min=1e-12)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=boxes.device)


def _has_op(name: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
        return True
    except RuntimeError:
        return False


def ensure_torchvision() -> bool:
    """Make torchvision importable and usable; returns True when the fallback ops had to be registered.

    Safe to call from any area, any number of times, before or after torchvision was imported.
    """
    global _DONE
    if _DONE:
        return False
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        _DONE = True
        return False
    added = False
    if not _has_op("nms"):
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.impl("nms", _nms, "CompositeExplicitAutograd")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.impl("qnms", lambda d, s, t: _nms(d.dequantize(), s.dequantize(), t), "CompositeExplicitAutograd")
        _LIBS.append(lib)  # the Library object must stay alive
        added = True
    import torchvision.extension

    if not torchvision.extension._has_ops():
        # The compiled extension failed to load; nms/qnms now exist in pure torch, the rest stay absent.
        torchvision.extension._has_ops = lambda: True
    _DONE = True
    return added


_LIBS: list = []
