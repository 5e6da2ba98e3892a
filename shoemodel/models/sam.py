"""SAM (Segment Anything) by path: one loader for a segment-anything checkpoint or a transformers SAM-family folder.

Curation's segment stage and generate's foreground step both go through `load_sam`, which returns a thin
predictor: `set_image` once per image (the expensive ViT embedding), then any number of box / point prompts
through the light mask decoder in one batch. A `.pth` is the segment-anything release layout (a bare state
dict); its size comes from `model_type` (vit_b / vit_l / vit_h), else the file name, else the state dict's
shapes, so a non-standard (e.g. tiny test) SAM loads too. A folder's family (SAM, HQ-SAM, SAM 2 / 2.1) comes
from its config.json; the prompts (box + foot points + calf negatives) are the same for all. Nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shoemodel.models.weights import SAM_HINT, require_weights

WHAT = "SAM (segment-anything .pth or transformers SAM-family folder)"
PADDING = -1  # SAM's not-a-point label; it changes the mask, so prompts are never padded (see point_count_groups)


@dataclass(frozen=True)
class SamShape:
    """The sizes that make a segment-anything SAM; the three published ones are VIT_B, VIT_L, VIT_H."""

    encoder_dim: int
    encoder_depth: int
    encoder_heads: int
    global_attn: tuple[int, ...]  # encoder blocks with global attention; the rest attend in windows
    image_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    mlp_ratio: float = 4.0
    prompt_dim: int = 256
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    iou_head_depth: int = 3
    iou_head_dim: int = 256
    multimask_outputs: int = 3


VIT_B = SamShape(768, 12, 12, (2, 5, 8, 11))
VIT_L = SamShape(1024, 24, 16, (5, 11, 17, 23))
VIT_H = SamShape(1280, 32, 16, (7, 15, 23, 31))
MODEL_TYPES: dict[str, SamShape] = {"vit_b": VIT_B, "vit_l": VIT_L, "vit_h": VIT_H}


class SamPredictor(Protocol):
    """What both SAM implementations offer: embed an image once, then batches of prompts on it."""

    source: str  # "segment-anything" | "transformers"
    version: str

    def set_image(self, image: np.ndarray) -> None: ...

    def predict(self, boxes: np.ndarray | None = None, points: np.ndarray | None = None,
                labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...


def model_type_from_name(path: str | Path) -> str | None:
    """vit_b / vit_l / vit_h when the file name says so (the release names do: sam_vit_b_01ec64.pth)."""
    m = re.search(r"vit[_-]([blh])(?![a-z])", Path(path).name, re.IGNORECASE)
    return f"vit_{m.group(1).lower()}" if m else None


def shape_from_state_dict(sd: dict[str, Any]) -> SamShape:
    """The SamShape a segment-anything state dict was saved from, read off its tensor shapes.

    Head counts are not stored: the encoder's follow from its relative-position tables (one row per head
    channel), the decoder's from SAM's 32-channel heads (256 / 8 in every published SAM).
    """
    def shape(key: str) -> tuple[int, ...]:
        return tuple(sd[key].shape)

    def count(prefix: str) -> int:
        return len({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix)})

    enc = "image_encoder."
    dim, _, patch, _ = shape(enc + "patch_embed.proj.weight")
    grid = shape(enc + "pos_embed")[1]
    depth = count(enc + "blocks.")
    rel = [shape(f"{enc}blocks.{i}.attn.rel_pos_h") for i in range(depth)]
    global_attn = tuple(i for i, r in enumerate(rel) if r[0] == 2 * grid - 1)
    windows = [r[0] for i, r in enumerate(rel) if i not in global_attn]
    prompt_dim = shape(enc + "neck.0.weight")[0]
    return SamShape(
        encoder_dim=dim, encoder_depth=depth, encoder_heads=dim // rel[0][1], global_attn=global_attn,
        image_size=grid * patch, patch_size=patch, window_size=(windows[0] + 1) // 2 if windows else 0,
        mlp_ratio=shape(enc + "blocks.0.mlp.lin1.weight")[0] / dim, prompt_dim=prompt_dim,
        mask_in_chans=shape("prompt_encoder.mask_downscaling.3.weight")[0],
        decoder_depth=count("mask_decoder.transformer.layers."),
        decoder_mlp_dim=shape("mask_decoder.transformer.layers.0.mlp.lin1.weight")[0],
        decoder_heads=max(1, prompt_dim // 32), iou_head_depth=count("mask_decoder.iou_prediction_head.layers."),
        iou_head_dim=shape("mask_decoder.iou_prediction_head.layers.0.weight")[0],
        multimask_outputs=shape("mask_decoder.mask_tokens.weight")[0] - 1)


def build_sam(shape: SamShape) -> Any:
    """A segment-anything `Sam` of this shape with random weights (load a state dict into it)."""
    from functools import partial

    import torch

    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    grid = shape.image_size // shape.patch_size
    encoder = ImageEncoderViT(
        img_size=shape.image_size, patch_size=shape.patch_size, embed_dim=shape.encoder_dim, depth=shape.encoder_depth,
        num_heads=shape.encoder_heads, mlp_ratio=shape.mlp_ratio, out_chans=shape.prompt_dim, qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True, window_size=shape.window_size,
        global_attn_indexes=shape.global_attn)
    prompts = PromptEncoder(embed_dim=shape.prompt_dim, image_embedding_size=(grid, grid),
                            input_image_size=(shape.image_size, shape.image_size), mask_in_chans=shape.mask_in_chans)
    transformer = TwoWayTransformer(depth=shape.decoder_depth, embedding_dim=shape.prompt_dim,
                                    mlp_dim=shape.decoder_mlp_dim, num_heads=shape.decoder_heads)
    decoder = MaskDecoder(num_multimask_outputs=shape.multimask_outputs, transformer=transformer,
                          transformer_dim=shape.prompt_dim, iou_head_depth=shape.iou_head_depth,
                          iou_head_hidden_dim=shape.iou_head_dim)
    return Sam(image_encoder=encoder, prompt_encoder=prompts, mask_decoder=decoder).eval()


#: transformers SAM families: config.json model_type -> (model class, image processor class, prompt layout).
#: "sam" layout: one embedding tensor, longest-side resize + padding; "sam_hq" adds the ViT's intermediate
#: embeddings; "sam2" (SAM 2 / 2.1, Hiera + FPN): multi-level embeddings, a plain square resize.
FAMILIES: dict[str, tuple[str, str, str]] = {
    "sam": ("SamModel", "SamImageProcessor", "sam"),
    "sam_hq": ("SamHQModel", "SamImageProcessor", "sam_hq"),
    "sam2": ("Sam2Model", "Sam2ImageProcessor", "sam2"),
    "sam2_video": ("Sam2Model", "Sam2ImageProcessor", "sam2"),  # the hub's SAM 2.1 folders; the image model loads them
}
_ARCHITECTURES = {"SamModel": "sam", "SamHQModel": "sam_hq", "Sam2Model": "sam2", "Sam2VideoModel": "sam2_video"}


def load_sam(path: str | Path | None, model_type: str | None = None, device: str = "cpu",
             dtype: Any = None) -> SamPredictor:
    """The SAM at `path` as a predictor: a folder is a transformers SAM-family model (SamModel, SamHQModel,
    Sam2Model: chosen from its config.json), a file a segment-anything state dict.

    `model_type` (vit_b / vit_l / vit_h) sizes a `.pth`; empty: from the file name, else from the state dict.
    `dtype` (e.g. torch.bfloat16 / "float16") runs the encoder and decoder under autocast; weights stay float32.
    A missing file or folder is one `WeightsNotFound` naming it and where SAM checkpoints come from.
    """
    found = require_weights(path, WHAT, SAM_HINT)
    if checkpoint_source(found) == "transformers":
        return _load_transformers(found, device, dtype)
    return _load_segment_anything(found, model_type or model_type_from_name(found), device, dtype)


def checkpoint_source(path: str | Path | None) -> str:
    """Which implementation the SAM at `path` is for, without loading it: a folder is transformers'."""
    return "transformers" if require_weights(path, WHAT, SAM_HINT).is_dir() else "segment-anything"


def family_of(folder: str | Path) -> str:
    """The SAM family of a transformers folder (a FAMILIES key), read from config.json; unknown -> ValueError."""
    import json

    config = require_weights(Path(folder) / "config.json", f"{WHAT} (config.json)", SAM_HINT)
    try:
        c = json.loads(config.read_text())
    except ValueError as exc:
        raise ValueError(f"'{config}' is not valid JSON: {exc}") from exc
    kind = c.get("model_type") or next((_ARCHITECTURES[a] for a in c.get("architectures") or [] if a in _ARCHITECTURES), "")
    if kind not in FAMILIES:
        from shoemodel.config_fields import unknown_value

        raise ValueError(unknown_value(f"{config} model_type", kind or "unknown", FAMILIES) + " (not a SAM family model)")
    return kind


def _torch_dtype(dtype: Any) -> Any:
    from shoemodel.models.device import torch_dtype

    return torch_dtype(dtype, "SAM dtype")


def _load_segment_anything(path: Path, model_type: str | None, device: str, dtype: Any = None) -> SamPredictor:
    from shoemodel.models.checkpoint import load_torch_file

    if model_type and model_type not in MODEL_TYPES:
        raise ValueError(f"SAM model_type '{model_type}' unknown; use one of {sorted(MODEL_TYPES)} or leave it empty")
    sd = load_torch_file(path)
    try:
        inferred = shape_from_state_dict(sd)
    except (KeyError, AttributeError, IndexError) as exc:
        raise ValueError(f"'{path}' is not a segment-anything SAM state dict (no {exc})") from exc
    shape = MODEL_TYPES[model_type] if model_type else inferred
    if shape != inferred:
        looks = next((k for k, v in MODEL_TYPES.items() if v == inferred), "a non-standard size")
        raise ValueError(f"SAM checkpoint '{path}' is {looks}, not model_type {model_type}: set model_type to match "
                         "or leave it empty to read the size from the file")
    model = build_sam(shape)
    model.load_state_dict(sd)
    return SegmentAnythingPredictor(model.to(device), f"{path.name} segment-anything-{_dist_version('segment-anything')}",
                                    _torch_dtype(dtype))


def _load_transformers(folder: Path, device: str, dtype: Any = None) -> SamPredictor:
    from shoemodel.models.runtime import prepare_imports

    family = family_of(folder)
    prepare_imports()
    import transformers

    model_cls = getattr(transformers, FAMILIES[family][0])
    model = model_cls.from_pretrained(str(folder)).to(device)
    return TransformersSamPredictor(model, f"{folder.name} {model_cls.__name__} transformers-{transformers.__version__}",
                                    folder, _torch_dtype(dtype))


def as_predictor(model: Any, version: str = "in-memory") -> SamPredictor:
    """A SAM already in memory (segment-anything Sam or SamPredictor, a transformers SAM-family model) as our predictor."""
    from shoemodel.models.runtime import prepare_imports

    if isinstance(model, (SegmentAnythingPredictor, TransformersSamPredictor)):
        return model
    if type(model).__module__.startswith("transformers."):  # checked by name: segment-anything may be absent
        return TransformersSamPredictor(model, version)
    prepare_imports()
    from segment_anything import SamPredictor as _SAPredictor

    return SegmentAnythingPredictor(model.model if isinstance(model, _SAPredictor) else model, version)


def point_count_groups(points: Sequence[np.ndarray]) -> list[list[int]]:
    """Prompt indices grouped by their number of points (groups in first-seen order, indices ascending).

    SAM has no neutral padding: a padding point (label -1) becomes the not-a-point token, which the mask decoder
    attends to like any other, so a prompt padded to a longer one's length gets another mask than on its own
    (on bus.jpg with random vit_b weights: IoU 0.91 with SAM on that prompt alone). Prompts with equal counts
    need no padding and share one call.
    """
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(points):
        groups.setdefault(len(p), []).append(i)
    return list(groups.values())


def predict_by_count(predict: Callable[[np.ndarray, np.ndarray | None, np.ndarray | None], np.ndarray],
                     boxes: np.ndarray, points: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per prompt i (boxes[i], points[i] (P_i, 2), labels[i] (P_i,)): `predict(boxes, points, labels)` -> masks, one
    call per point count (`point_count_groups`), so every mask is what SAM gives that prompt on its own."""
    out: list[np.ndarray | None] = [None] * len(points)
    boxes = np.asarray(boxes, np.float32)
    for idx in point_count_groups(points):
        if len(points[idx[0]]):
            pc = np.stack([np.asarray(points[i], np.float32) for i in idx])
            lab = np.stack([np.asarray(labels[i], np.int64) for i in idx])
        else:
            pc = lab = None
        for i, mask in zip(idx, predict(boxes[idx], pc, lab)):
            out[i] = mask
    return out  # type: ignore[return-value]


def _dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _autocast(device: Any, dtype: Any) -> Any:
    """Autocast to `dtype` on the model's device type, or a no-op for float32 / none."""
    import contextlib

    import torch

    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


class SegmentAnythingPredictor:
    """segment-anything's SamPredictor behind `set_image` / batched `predict` (all prompts in one decoder call)."""

    source = "segment-anything"

    def __init__(self, model: Any, version: str = "in-memory", dtype: Any = None):
        from shoemodel.models.runtime import prepare_imports

        prepare_imports()
        from segment_anything import SamPredictor as _SAPredictor

        self.predictor = _SAPredictor(model.eval())
        self.version = version
        self.dtype = dtype

    def set_image(self, image: np.ndarray) -> None:
        """Embed an RGB uint8 (H, W, 3) image; every `predict` until the next call prompts on it."""
        with _autocast(self.predictor.device, self.dtype):
            self.predictor.set_image(np.ascontiguousarray(image))

    def predict(self, boxes: np.ndarray | None = None, points: np.ndarray | None = None,
                labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per prompt i (boxes (N, 4) x1y1x2y2 and/or points (N, P, 2) + labels (N, P): 1 object, 0 not, in image
        pixels): the best of SAM's multimask outputs by predicted IoU -> masks bool (N, H, W), scores (N,).
        Every prompt has P points: padding one changes its mask (`predict_by_count` groups prompts instead)."""
        import torch

        p = self.predictor
        if not p.is_image_set:
            raise RuntimeError("call set_image before predict")
        size, dev = p.original_size, p.device
        pc = lab = bx = None
        if points is not None:
            pc = torch.as_tensor(p.transform.apply_coords(np.asarray(points, np.float32), size), dtype=torch.float32, device=dev)
            lab = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=dev)
        if boxes is not None:
            bx = torch.as_tensor(p.transform.apply_boxes(np.asarray(boxes, np.float32), size), dtype=torch.float32, device=dev)
        with torch.inference_mode(), _autocast(dev, self.dtype):
            masks, iou, _ = p.predict_torch(pc, lab, boxes=bx, multimask_output=True)
        best = iou.argmax(1)
        rows = torch.arange(len(best), device=best.device)
        return masks[rows, best].cpu().numpy().astype(bool), iou[rows, best].float().cpu().numpy()


class TransformersSamPredictor:
    """A transformers SAM-family model (SamModel, SamHQModel, Sam2Model) behind the same interface: the image
    embedding once per image, all prompts in one decoder call."""

    source = "transformers"

    def __init__(self, model: Any, version: str = "in-memory", folder: Path | None = None, dtype: Any = None):
        from shoemodel.models.runtime import prepare_imports

        prepare_imports()
        import transformers

        self.model = model.eval()
        self.family = FAMILIES[model.config.model_type][2] if model.config.model_type in FAMILIES else "sam"
        proc_cls = getattr(transformers, FAMILIES.get(model.config.model_type, FAMILIES["sam"])[1])
        if folder is not None and (folder / "preprocessor_config.json").exists():
            self.processor = proc_cls.from_pretrained(str(folder))
        elif self.family == "sam2":  # a bare save_pretrained folder: the processor follows the model's input size
            size = model.config.prompt_encoder_config.image_size
            self.processor = proc_cls(size={"height": size, "width": size})
        else:
            size = model.config.vision_config.image_size
            self.processor = proc_cls(size={"longest_edge": size}, pad_size={"height": size, "width": size})
        self.version = version
        self.dtype = dtype
        self._embedding: dict[str, Any] | None = None

    def set_image(self, image: np.ndarray) -> None:
        """Embed an RGB uint8 (H, W, 3) image; every `predict` until the next call prompts on it."""
        import torch

        enc = self.processor(image, return_tensors="pt")
        h, w = image.shape[:2]
        pixels = enc["pixel_values"].to(self.model.device)
        if "reshaped_input_sizes" in enc:  # SAM / HQ-SAM: longest side resized, then padded
            rh, rw = (int(v) for v in enc["reshaped_input_sizes"][0])
            self._sizes = (enc["original_sizes"], enc["reshaped_input_sizes"])
        else:  # SAM 2: a plain resize to the model's square input
            rh, rw = pixels.shape[-2:]
            self._sizes = (enc["original_sizes"],)
        self._scale = np.array([rw / w, rh / h], np.float32)
        with torch.inference_mode(), _autocast(self.model.device, self.dtype):
            emb = self.model.get_image_embeddings(pixels)
        if self.family == "sam_hq":
            self._embedding = {"image_embeddings": emb[0], "intermediate_embeddings": emb[1]}
        else:
            self._embedding = {"image_embeddings": emb}

    def predict(self, boxes: np.ndarray | None = None, points: np.ndarray | None = None,
                labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Same contract as SegmentAnythingPredictor.predict (padding label -1 becomes transformers' -10)."""
        import torch

        if self._embedding is None:
            raise RuntimeError("call set_image before predict")
        dev, kw = self.model.device, {}
        if points is not None:
            lab = np.asarray(labels, np.int64)
            kw["input_points"] = torch.as_tensor((np.asarray(points, np.float32) * self._scale)[None], device=dev)
            kw["input_labels"] = torch.as_tensor(np.where(lab == PADDING, -10, lab)[None], device=dev)
        if boxes is not None:
            kw["input_boxes"] = torch.as_tensor((np.asarray(boxes, np.float32) * np.tile(self._scale, 2))[None], device=dev)
        with torch.inference_mode(), _autocast(dev, self.dtype):
            out = self.model(**self._embedding, multimask_output=True, **kw)
        masks = self.processor.post_process_masks(out.pred_masks.float().cpu(), *self._sizes)[0]
        iou = out.iou_scores[0].float().cpu()
        best = iou.argmax(-1)
        rows = torch.arange(len(best))
        return masks[rows, best].numpy().astype(bool), iou[rows, best].numpy()
