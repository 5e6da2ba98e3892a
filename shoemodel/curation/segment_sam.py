"""SAM as the segment stage's shoe segmenter: foot prompts -> one batched SAM call per image.

Loading (segment-anything .pth or a transformers SAM / HQ-SAM / SAM 2 folder, by path) is `shoemodel.models.sam`'s job; this
module only turns the foot prompts of an image into SAM's box + point prompts, so the image embedding
is computed once and the feet go through the mask decoder together (one call per point count: SAM has no
neutral padding, so a foot with fewer points is never padded to another's length).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation.backends import all_backends
from shoemodel.curation.prompts import FootPrompt
from shoemodel.models.sam import SamPredictor, as_predictor, checkpoint_source, load_sam, predict_by_count

#: curation.segment.backend -> the SAM implementation its weights must be: the library the registry names for it
SOURCES = {b.name: b.library[0] for b in all_backends() if b.builder == f"{__name__}:from_config"}


class SamSegmenter:
    """A SAM predictor as a `ShoeSegmenter`; `name` is the backend (sam | hf_sam) recorded in provenance."""

    def __init__(self, sam: SamPredictor | Any, name: str | None = None, device: str = "auto", dtype: str = "auto"):
        from shoemodel.curation import sam_batch
        from shoemodel.models.device import dtype_name, resolve_device, resolve_dtype

        self.sam = as_predictor(sam)
        self.name = name or next(k for k, v in SOURCES.items() if v == self.sam.source)
        self.version = self.sam.version
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        attention = sam_batch.place(self.sam, self.device, self.dtype)
        # batched families: the encoder's weights are cast (place) and the decoder stays float32; the others
        # (SAM-HQ, SAM 2) keep float32 weights and run per image under autocast in that precision
        self.sam.dtype = None if sam_batch.supports(self.sam) else self.dtype
        self.runtime = {"device": self.device, "dtype": dtype_name(self.dtype), "attention": attention}
        self.mask_scores: dict[int, dict[str, float]] = {}  # id(mask) -> sam_iou, sam_stability (taken by the quality)
        self.prior: Any = None  # a ShoePrior: prompts from its mask (box, sure points, negatives) instead of the keypoints'

    @classmethod
    def from_weights(cls, backend: str, weights: str | Path, model_type: str = "", device: str = "auto",
                     dtype: str = "auto") -> SamSegmenter:
        """Load by path; the backend must match what the path holds (a .pth is `sam`, a folder `hf_sam`: SamModel,
        SamHQModel or Sam2Model, as its config.json says)."""
        source = checkpoint_source(weights)
        if source != SOURCES[backend]:
            other = next(k for k, v in SOURCES.items() if v == source)
            raise ValueError(f"curation.segment.weights '{weights}' is a {source} SAM: set curation.segment.backend: {other}")
        return cls(load_sam(weights, model_type or None), backend, device, dtype)

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]:
        """One boolean (H, W) mask per foot prompt."""
        return self.segment_batch([image], [prompts])[0]

    def prepare(self, images: list[np.ndarray]) -> Any:
        """Host-side encoder input for a batch (runs in the loader's threads); None where batching is not supported."""
        from shoemodel.curation import sam_batch

        return sam_batch.prepare(self.sam, images, self.device) if sam_batch.supports(self.sam) and images else None

    def segment_batch(self, images: list[np.ndarray], prompts: list[list[FootPrompt]],
                      prepared: Any = None) -> list[list[np.ndarray]]:
        """Per image, one boolean (H, W) mask per foot prompt: one encoder call for the images that have prompts."""
        from shoemodel.curation import sam_batch

        todo = [i for i, p in enumerate(prompts) if p]
        out: list[list[np.ndarray]] = [[] for _ in images]
        if not todo:
            return out
        batched = sam_batch.supports(self.sam)
        if batched:
            if prepared is None or len(todo) != len(images):
                prepared = sam_batch.prepare(self.sam, [images[i] for i in todo], self.device)
            embeddings = sam_batch.embed(self.sam, prepared, self.device, self.dtype)
        for j, i in enumerate(todo):
            if batched:
                sam_batch.use(self.sam, prepared, embeddings, j)
            else:
                self.sam.set_image(images[i])
            ps = prompts[i]
            if self.prior is not None:
                from shoemodel.curation.prompts import prior_prompts

                ps = prior_prompts(self.prior, images[i], ps)
            if len(self.mask_scores) > 4096:  # scores of masks nobody asked for (segment called directly)
                self.mask_scores.clear()

            def predict(b: np.ndarray, pc: Any, lab: Any) -> list[np.ndarray]:
                masks, iou, stability = sam_batch.predict_scored(self.sam, b, pc, lab)
                out_masks = list(masks)
                for n, m in enumerate(out_masks):
                    self.mask_scores[id(m)] = {"sam_iou": float(iou[n]),
                                               "sam_stability": None if stability is None else float(stability[n])}
                return out_masks

            out[i] = predict_by_count(predict, np.stack([p.box for p in ps]), [p.points for p in ps], [p.labels for p in ps])
        return out


def from_config(cfg: Any) -> SamSegmenter:
    """The `sam` and `hf_sam` backends of curation.segment (the backend must match what the weights path holds)."""
    seg = SamSegmenter.from_weights(cfg.backend, cfg.weights, cfg.model_type, cfg.device, cfg.dtype)
    if cfg.sam_prior_prompts:
        from shoemodel.curation.segment_prior import segmenting_prior

        seg.prior = segmenting_prior(cfg)
    return seg
