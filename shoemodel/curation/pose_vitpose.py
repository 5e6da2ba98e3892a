"""ViTPose / ViTPose++ from transformers with a 133-point COCO-WholeBody head.

transformers' published ViTPose ports predict 17 body points; whole-body heads (ViTPose+ in the
original release, mmpose checkpoints) are converted to a transformers folder and loaded by path.
Tests build the same class at a tiny size with random weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation.backends import get
from shoemodel.models.weights import require_weights

HINT = get("pose", "vitpose").hint


class VitPoseWholeBody:
    """Top-down ViTPose on person boxes, batched over all boxes of all images in a call."""

    name = "vitpose"

    def __init__(self, weights: str | Path = "", model: Any = None, dataset_index: int = 0, device: str = "auto",
                 dtype: str = "auto"):
        from shoemodel.compat.torchvision import ensure_torchvision

        ensure_torchvision()
        import transformers
        from transformers import VitPoseForPoseEstimation, VitPoseImageProcessor

        from shoemodel.models.device import attention_of, dtype_name, resolve_device, resolve_dtype, use_sdpa

        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        if model is None:
            folder = require_weights(weights, "ViTPose whole-body", HINT)
            model = VitPoseForPoseEstimation.from_pretrained(str(folder))  # the backbone loads with SDPA
        use_sdpa(model)
        self.model = model.to(self.device, self.dtype).eval()
        self.runtime = {"device": self.device, "dtype": dtype_name(self.dtype),
                        "attention": attention_of(model)}
        size = model.config.backbone_config.image_size
        self.processor = VitPoseImageProcessor(size={"height": int(size[0]), "width": int(size[1])})
        self.num_experts = getattr(model.config.backbone_config, "num_experts", 1)
        self.dataset_index = dataset_index
        self.version = f"{Path(str(weights)).name or 'in-memory'} transformers-{transformers.__version__}"

    def estimate_batch(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[np.ndarray]:
        """Per image: (P, K, 3) keypoints x, y, score for its P boxes (K = the head's outputs)."""
        import torch

        xywh = [[[b[0], b[1], b[2] - b[0], b[3] - b[1]] for b in bx] for bx in boxes]
        todo = [i for i, bx in enumerate(xywh) if bx]
        k = self.model.config.num_labels
        out = [np.zeros((len(b), k, 3), np.float32) for b in boxes]
        if not todo:
            return out
        from shoemodel.curation.prefetch import pin

        inputs = self.processor([images[i] for i in todo], boxes=[xywh[i] for i in todo], return_tensors="pt")
        inputs["pixel_values"] = pin(inputs["pixel_values"], self.device).to(self.device, self.dtype, non_blocking=True)
        kwargs = {}
        if self.num_experts > 1:
            n = inputs["pixel_values"].shape[0]
            kwargs["dataset_index"] = torch.full((n,), self.dataset_index, dtype=torch.long, device=self.device)
        with torch.inference_mode():
            pred = self.model(**inputs, **kwargs)
        pred.heatmaps = pred.heatmaps.float().cpu()  # decoding heatmaps to points runs in float32 on the host
        from shoemodel.curation.vitpose_decode import decode

        crops = [b for i in todo for b in xywh[i]]
        size = (int(self.processor.size["height"]), int(self.processor.size["width"]))
        points = decode(pred.heatmaps.numpy(), crops, size)  # all crops at once (transformers' numbers, vectorised)
        start = 0
        for i in todo:
            out[i][:] = points[start: start + len(xywh[i])]
            start += len(xywh[i])
        return out

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return self.estimate_batch([image], [boxes])[0]


def from_config(cfg: Any) -> VitPoseWholeBody:
    """The `vitpose` backend of curation.pose."""
    return VitPoseWholeBody(cfg.weights, dataset_index=cfg.dataset_index, device=cfg.device, dtype=cfg.dtype)
