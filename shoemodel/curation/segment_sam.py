"""SAM shoe segmenters: segment-anything's SamPredictor or transformers' SamModel.

The image embedding is computed once per image; all foot prompts of that image go through the
mask decoder as one batch. Real checkpoints load by path (none can be downloaded here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation.prompts import FootPrompt
from shoemodel.models.weights import require_weights

SAM_HINT = ("SAM checkpoints: sam_vit_b_01ec64.pth / sam_vit_l_0b3195.pth / sam_vit_h_4b8939.pth from the "
            "segment-anything release; set curation.segment.weights to the file (e.g. models/sam/sam_vit_b_01ec64.pth).")
HF_HINT = "A transformers SamModel folder (config.json + model.safetensors), e.g. a local copy of facebook/sam-vit-base."


class SegmentAnythingSegmenter:
    """segment-anything SamPredictor: set_image once, then predict_torch on all feet at once."""

    name = "sam"

    def __init__(self, weights: str | Path = "", model_type: str = "vit_b", model: Any = None):
        from shoemodel.compat.torchvision import ensure_torchvision

        ensure_torchvision()
        from segment_anything import SamPredictor, sam_model_registry

        if model is None:
            path = require_weights(weights, "SAM (segment-anything)", SAM_HINT)
            if model_type not in sam_model_registry:
                raise ValueError(f"curation.segment.model_type '{model_type}' unknown; use {sorted(sam_model_registry)}")
            model = sam_model_registry[model_type](checkpoint=str(path))
        self.predictor = SamPredictor(model.eval())
        self.version = f"{Path(str(weights)).name or 'in-memory'} segment-anything-1.0"

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]:
        """One boolean (H, W) mask per foot prompt."""
        import torch

        if not prompts:
            return []
        self.predictor.set_image(image)
        n = max(len(p.points) for p in prompts)
        coords = np.zeros((len(prompts), n, 2), np.float32)
        labels = np.full((len(prompts), n), -1, np.int64)  # -1 = padding, ignored by the prompt encoder
        for i, p in enumerate(prompts):
            coords[i, : len(p.points)], labels[i, : len(p.labels)] = p.points, p.labels
        t = self.predictor.transform
        shape = image.shape[:2]
        pc = torch.as_tensor(t.apply_coords(coords, shape), dtype=torch.float32)
        bx = torch.as_tensor(t.apply_boxes(np.stack([p.box for p in prompts]), shape), dtype=torch.float32)
        with torch.inference_mode():
            masks, iou, _ = self.predictor.predict_torch(pc, torch.as_tensor(labels), boxes=bx, multimask_output=True)
        best = iou.argmax(1)
        return [masks[i, int(best[i])].cpu().numpy().astype(bool) for i in range(len(prompts))]


class HFSamSegmenter:
    """transformers SamModel: image embeddings once, then all feet of the image in one decoder call."""

    name = "hf_sam"

    def __init__(self, weights: str | Path = "", model: Any = None):
        from shoemodel.compat.torchvision import ensure_torchvision

        ensure_torchvision()
        import transformers
        from transformers import SamImageProcessor, SamModel

        if model is None:
            folder = require_weights(weights, "SAM (transformers SamModel)", HF_HINT)
            model = SamModel.from_pretrained(str(folder))
        self.model = model.eval()
        size = model.config.vision_config.image_size
        self.processor = SamImageProcessor(size={"longest_edge": size}, pad_size={"height": size, "width": size})
        self.version = f"{Path(str(weights)).name or 'in-memory'} transformers-{transformers.__version__}"

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]:
        import torch

        if not prompts:
            return []
        enc = self.processor(image, return_tensors="pt")
        h, w = image.shape[:2]
        rh, rw = (int(v) for v in enc["reshaped_input_sizes"][0])
        scale = np.array([rw / w, rh / h], np.float32)
        n = max(len(p.points) for p in prompts)
        pts = np.zeros((1, len(prompts), n, 2), np.float32)
        lab = np.full((1, len(prompts), n), -10, np.int64)  # -10 = padding in transformers' SAM
        for i, p in enumerate(prompts):
            pts[0, i, : len(p.points)] = p.points * scale
            lab[0, i, : len(p.labels)] = p.labels
        boxes = np.stack([p.box * np.tile(scale, 2) for p in prompts])[None]
        with torch.inference_mode():
            emb = self.model.get_image_embeddings(enc["pixel_values"])
            out = self.model(image_embeddings=emb, input_points=torch.as_tensor(pts), input_labels=torch.as_tensor(lab),
                             input_boxes=torch.as_tensor(boxes), multimask_output=True)
        masks = self.processor.post_process_masks(out.pred_masks, enc["original_sizes"], enc["reshaped_input_sizes"])[0]
        best = out.iou_scores[0].argmax(-1)
        return [masks[i, int(best[i])].numpy().astype(bool) for i in range(len(prompts))]
