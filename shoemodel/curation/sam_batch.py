"""SAM's image encoder on a stacked batch of images, then the prompt decoder per image, for both SAM implementations.

The encoder is where SAM spends its time (a ViT on a 1024² input); one call on B stacked images keeps a GPU
busy where B single calls would not. Preprocessing (resize longest side, normalise, pad) is the libraries'
own and runs on the host, in the prefetching loader's threads; the stacked batch goes to the device in pinned
memory. The encoder may run in bfloat16 / float16; its embedding is cast back to float32 so the light prompt
decoder and the mask upsampling stay exact. After `use`, the predictor answers `predict` for that image just
as after its own `set_image`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shoemodel.curation.prefetch import pin


@dataclass
class Prepared:
    """A batch ready for the encoder: stacked pixels (B, 3, S, S) and, per image, its original and resized sizes."""

    pixels: Any  # torch.Tensor, float32, on the host
    original: list[tuple[int, int]]
    resized: list[tuple[int, int]]


def supports(predictor: Any) -> bool:
    """Whether the encoder can be batched here: segment-anything's Sam and transformers' SamModel (others: per image)."""
    if predictor.source == "segment-anything":
        return True
    return predictor.source == "transformers" and type(predictor.model).__name__ == "SamModel"


def place(predictor: Any, device: str, dtype: Any) -> str:
    """Move the SAM to `device`, its image encoder to `dtype`; returns the encoder's attention implementation."""
    from shoemodel.models.device import use_sdpa

    if predictor.source == "segment-anything":
        model = predictor.predictor.model
        model.to(device)
        model.image_encoder.to(dtype)
        return "segment-anything (its own attention)"
    model = predictor.model
    if not supports(predictor):  # another SAM family: whole model on the device, its own precision
        model.to(device)
        return use_sdpa(model)
    attention = use_sdpa(model)
    model.to(device)
    model.vision_encoder.to(dtype)
    return attention


def prepare(predictor: Any, images: list[np.ndarray], device: str = "cpu") -> Prepared:
    """Each RGB uint8 image resized, normalised and padded exactly as the library's own `set_image` does, stacked."""
    import torch

    if predictor.source == "segment-anything":
        p = predictor.predictor
        model = p.model
        mean, std = model.pixel_mean.detach().float().cpu(), model.pixel_std.detach().float().cpu()
        size = model.image_encoder.img_size
        xs, resized = [], []
        for im in images:
            x = torch.as_tensor(p.transform.apply_image(np.ascontiguousarray(im))).permute(2, 0, 1).float()
            resized.append((int(x.shape[1]), int(x.shape[2])))
            x = (x - mean) / std
            xs.append(torch.nn.functional.pad(x, (0, size - x.shape[2], 0, size - x.shape[1])))
        pixels = torch.stack(xs)
    else:
        enc = predictor.processor(images, return_tensors="pt")
        pixels = enc["pixel_values"].float()
        resized = [(int(h), int(w)) for h, w in enc["reshaped_input_sizes"].tolist()]
    return Prepared(pin(pixels, device), [(int(im.shape[0]), int(im.shape[1])) for im in images], resized)


def embed(predictor: Any, prepared: Prepared, device: str, dtype: Any) -> Any:
    """One encoder call on the whole batch -> float32 embeddings (B, C, h, w) on `device`."""
    import torch

    x = prepared.pixels.to(device, dtype, non_blocking=True)
    with torch.inference_mode():
        if predictor.source == "segment-anything":
            out = predictor.predictor.model.image_encoder(x)
        else:
            out = predictor.model.get_image_embeddings(x)
    return out.float()


def use(predictor: Any, prepared: Prepared, embeddings: Any, i: int) -> None:
    """Make image `i` of the batch the predictor's current image (as its own `set_image` would)."""
    import torch

    (h, w), (rh, rw) = prepared.original[i], prepared.resized[i]
    if predictor.source == "segment-anything":
        p = predictor.predictor
        p.reset_image()
        p.original_size, p.input_size = (h, w), (rh, rw)
        p.features = embeddings[i: i + 1]
        p.is_image_set = True
        return
    predictor._sizes = (torch.tensor([[h, w]]), torch.tensor([[rh, rw]]))
    predictor._scale = np.array([rw / w, rh / h], np.float32)
    predictor._embedding = {"image_embeddings": embeddings[i: i + 1]}


def predict_best(predictor: Any, boxes: np.ndarray, points: np.ndarray | None, labels: np.ndarray | None) -> np.ndarray:
    """The predictor's `predict` (best of the multimask outputs by predicted IoU), upsampling only the chosen mask.

    The libraries upsample all three candidate masks of every prompt to the full image before one is picked;
    the upsampling is per channel, so picking first gives the same masks at a third of the cost. All prompts
    have the same number of points (`shoemodel.models.sam.predict_by_count` groups them).
    """
    return predict_scored(predictor, boxes, points, labels)[0]


def predict_scored(predictor: Any, boxes: np.ndarray, points: np.ndarray,
                   labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """`predict_best` with SAM's predicted IoU of each chosen mask and its stability score (the share of the mask
    that survives moving the logit threshold by +-1; None where the library does not return the logits)."""
    import torch

    if predictor.source != "segment-anything":
        masks, iou = predictor.predict(boxes=boxes, points=points, labels=labels)
        return masks, np.asarray(iou, np.float32), None
    p = predictor.predictor
    model, size, dev = p.model, p.original_size, p.device
    prompt = None
    if points is not None:
        pc = torch.as_tensor(p.transform.apply_coords(np.asarray(points, np.float32), size), dtype=torch.float32, device=dev)
        prompt = (pc, torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=dev))
    bx = torch.as_tensor(p.transform.apply_boxes(np.asarray(boxes, np.float32), size), dtype=torch.float32, device=dev)
    with torch.inference_mode():
        sparse, dense = model.prompt_encoder(points=prompt, boxes=bx, masks=None)
        low, iou = model.mask_decoder(image_embeddings=p.features, image_pe=model.prompt_encoder.get_dense_pe(),
                                      sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=True)
        best = iou.argmax(1)
        rows = torch.arange(len(best), device=best.device)
        low = low[rows, best][:, None]
        t = model.mask_threshold
        stability = ((low > t + 1).flatten(1).sum(1).float() / (low > t - 1).flatten(1).sum(1).clamp(min=1).float())
        masks = model.postprocess_masks(low, p.input_size, p.original_size) > t
    return masks[:, 0].cpu().numpy(), iou[rows, best].float().cpu().numpy(), stability.cpu().numpy()
