"""SAM as the segment stage's shoe segmenter: foot prompts -> one batched SAM call per image.

Loading (segment-anything .pth or a transformers SAM / HQ-SAM / SAM 2 folder, by path) is `shoemodel.models.sam`'s job; this
module only turns the foot prompts of an image into SAM's box + point prompts, so the image embedding
is computed once and all feet go through the mask decoder together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation.prompts import FootPrompt
from shoemodel.models.sam import SamPredictor, as_predictor, checkpoint_source, load_sam, pad_points

#: curation.segment.backend -> the SAM implementation its weights must be (provenance names that library)
SOURCES = {"sam": "segment-anything", "hf_sam": "transformers"}


class SamSegmenter:
    """A SAM predictor as a `ShoeSegmenter`; `name` is the backend (sam | hf_sam) recorded in provenance."""

    def __init__(self, sam: SamPredictor | Any, name: str | None = None):
        self.sam = as_predictor(sam)
        self.name = name or next(k for k, v in SOURCES.items() if v == self.sam.source)
        self.version = self.sam.version

    @classmethod
    def from_weights(cls, backend: str, weights: str | Path, model_type: str = "", device: str = "cpu",
                     dtype: Any = None) -> SamSegmenter:
        """Load by path; the backend must match what the path holds (a .pth is `sam`, a folder `hf_sam`: SamModel,
        SamHQModel or Sam2Model, as its config.json says)."""
        source = checkpoint_source(weights)
        if source != SOURCES[backend]:
            other = next(k for k, v in SOURCES.items() if v == source)
            raise ValueError(f"curation.segment.weights '{weights}' is a {source} SAM: set curation.segment.backend: {other}")
        return cls(load_sam(weights, model_type or None, device, dtype), backend)

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]:
        """One boolean (H, W) mask per foot prompt."""
        if not prompts:
            return []
        self.sam.set_image(image)
        points, labels = pad_points([p.points for p in prompts], [p.labels for p in prompts])
        masks, _ = self.sam.predict(boxes=np.stack([p.box for p in prompts]), points=points, labels=labels)
        return list(masks)
