"""Original ViTPose / ViTPose+ checkpoints (mmpose-style `.pth`) -> a transformers VitPoseForPoseEstimation folder.

The released files hold `backbone.*` (a plain ViT: `patch_embed.proj`, `pos_embed`, `blocks.N.{norm1, attn.qkv,
attn.proj, norm2, mlp.fc1, mlp.fc2}`, `last_norm`) and `keypoint_head.*` (two deconv + BN blocks and a 1x1
`final_layer`, or, for the "simple" decoder, one 3x3 `final_layer`). ViTPose+ adds a mixture of experts: each
block's `mlp.fc2` gives the shared channels and `mlp.experts.K` the last `part_features` channels for
dataset K (0 coco, 1 aic, 2 mpii, 3 ap10k, 4 apt36k, 5 wholebody), and the other datasets' heads sit in
`associate_keypoint_heads.{K-1}`. For one dataset the expert's rows are appended to `fc2` (exactly what the
expert forward computes for that dataset index), so the output is a plain single-expert model: no
`dataset_index` to get wrong at inference. Head counts are not stored; they follow the published sizes.

`detect_layout` tells three files apart by `mlp.fc2`'s rows against the width (`patch_embed`'s channels):
- "moe", the ViTPose+ file as released: fc2 is short by the experts' rows; the dataset picks the expert to
  append and the head (`keypoint_head.*` for coco, `associate_keypoint_heads.{K-1}.*` for the others);
- "split", the output of ViTPose's `tools/model_split.py` (its README's first step for ViTPose+): one file per
  dataset in which fc2 already ends with that dataset's expert (full width), the `mlp.experts.*` are left in,
  and the dataset's head has been copied under `keypoint_head.*` (the final layer cut to its keypoint count;
  the associate heads removed). Which dataset it is follows from the expert fc2 ends with, in every block;
  only that dataset converts (the other heads are gone), and fc2 is used as it is;
- "single", a plain ViTPose (or a split file without its experts): fc2 full width, no experts, one head under
  `keypoint_head.*`, whose output count must fit the dataset.
The converter reports which it found (`Layout.describe`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ViTPose+ dataset order (expert index); heads of all but coco are `associate_keypoint_heads.{index - 1}`.
DATASETS: tuple[str, ...] = ("coco", "aic", "mpii", "ap10k", "apt36k", "wholebody")
NUM_KEYPOINTS: dict[str, int] = {"coco": 17, "aic": 14, "mpii": 16, "ap10k": 17, "apt36k": 17, "wholebody": 133}
#: attention heads of the published ViT sizes (S, B, L, H), by width
HEADS_BY_WIDTH: dict[int, int] = {384: 12, 768: 12, 1024: 16, 1280: 16}
LAYER_NORM_EPS = 1e-6  # ViTPose's LayerNorm (transformers' config default is 1e-12)
_HEAD_KEYS = {"deconv_layers.0.weight": "deconv1.weight", "deconv_layers.3.weight": "deconv2.weight",
              "final_layer.weight": "conv.weight", "final_layer.bias": "conv.bias"}
_BN = {"deconv_layers.1.": "batchnorm1.", "deconv_layers.4.": "batchnorm2."}


def read_state_dict(src: str | Path) -> dict[str, Any]:
    """The tensors of a ViTPose checkpoint (mmcv's {"meta": ..., "state_dict": ...} wrapper or a bare dict)."""
    from shoemodel.models.checkpoint import load_torch_file

    ckpt = load_torch_file(src)
    sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict) or "backbone.patch_embed.proj.weight" not in sd:
        raise ValueError(f"'{src}' is not an original ViTPose checkpoint (no backbone.patch_embed.proj.weight)")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def _count(sd: dict[str, Any], prefix: str) -> int:
    return len({m.group(1) for k in sd if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))})


@dataclass(frozen=True)
class Layout:
    """What a ViTPose checkpoint holds (see the module docstring): its kind, experts and heads."""

    kind: str  # "moe" | "split" | "single"
    width: int
    experts: int = 0  # mlp.experts.N per block
    merged: int | None = None  # split: the expert fc2 already ends with (its dataset index)
    heads: dict[str, int] = field(default_factory=dict)  # head prefix -> final_layer output channels

    def describe(self) -> str:
        heads = ", ".join(f"{k}* {v}" for k, v in self.heads.items())
        if self.kind == "moe":
            return f"ViTPose+ mixture-of-experts file ({self.experts} experts; heads {heads})"
        if self.kind == "split":
            return (f"model_split.py output for {DATASETS[self.merged]} (mlp.fc2 holds expert {self.merged}, "
                    f"{self.experts} experts left in; heads {heads})")
        return f"single-expert ViTPose (heads {heads})"

    def select(self, dataset: str) -> tuple[int | None, str]:
        """(expert to append to fc2 or None, head prefix) for `dataset`; what the file cannot give -> ValueError."""
        index = DATASETS.index(dataset)
        if self.kind == "moe":
            if index >= self.experts:
                raise ValueError(f"the checkpoint has {self.experts} experts; dataset {dataset} needs expert {index}")
            head = "keypoint_head." if index == 0 else f"associate_keypoint_heads.{index - 1}."
        elif self.kind == "split" and index != self.merged:
            raise ValueError(f"it is ViTPose's model_split.py output for {DATASETS[self.merged]} (mlp.fc2 already holds "
                             f"expert {self.merged}), not {dataset}: convert the {dataset}.pth model_split.py wrote "
                             "beside it, or the original ViTPose+ file")
        else:
            index, head = None, "keypoint_head."
        if head not in self.heads:
            raise ValueError(f"the checkpoint has no '{head}final_layer' for dataset {dataset} (found: {self.describe()})")
        return index, head


def detect_layout(sd: dict[str, Any]) -> Layout:
    """The Layout of a ViTPose state dict, from mlp.fc2's rows, the experts and the heads present."""
    import torch

    width = sd["backbone.patch_embed.proj.weight"].shape[0]
    heads = {m.group(1): int(v.shape[0]) for k, v in sd.items()
             if (m := re.fullmatch(r"((?:keypoint_head|associate_keypoint_heads\.\d+)\.)final_layer\.weight", k))}
    heads = dict(sorted(heads.items(), key=lambda kv: (kv[0] != "keypoint_head.", kv[0])))
    experts = _count(sd, "backbone.blocks.0.mlp.experts.")
    rows = sd["backbone.blocks.0.mlp.fc2.weight"].shape[0]
    if experts == 0:
        if rows != width:
            raise ValueError(f"mlp.fc2 gives {rows} of the {width} channels and there are no mlp.experts to add the rest")
        return Layout("single", width, heads=heads)
    part = sd["backbone.blocks.0.mlp.experts.0.weight"].shape[0]
    if rows + part == width:
        return Layout("moe", width, experts, heads=heads)
    if rows != width:
        raise ValueError(f"mlp.fc2 has {rows} rows and each expert {part}: neither a ViTPose+ file ({width - part} + "
                         f"{part}) nor a model_split.py output ({width})")
    merged = set(range(experts))
    for i in range(_count(sd, "backbone.blocks.")):
        tail = sd[f"backbone.blocks.{i}.mlp.fc2.weight"][width - part:]
        merged &= {k for k in range(experts) if torch.equal(tail, sd[f"backbone.blocks.{i}.mlp.experts.{k}.weight"])}
    if len(merged) != 1:
        raise ValueError(f"mlp.fc2 is full width ({width}) beside {experts} experts but its last {part} rows are "
                         f"{'no' if not merged else 'more than one'} expert's in every block: not a model_split.py output")
    return Layout("split", width, experts, merged.pop(), heads)


def make_config(sd: dict[str, Any], dataset: str = "wholebody", num_heads: int | None = None,
                image_size: tuple[int, int] | None = None, layout: Layout | None = None) -> Any:
    """The VitPoseConfig of a ViTPose state dict, read off its shapes (image size: 4:3 unless given)."""
    from transformers import VitPoseBackboneConfig, VitPoseConfig

    if dataset not in DATASETS:
        raise ValueError(f"ViTPose dataset '{dataset}' unknown; use one of {DATASETS}")
    dim, _, ph, pw = sd["backbone.patch_embed.proj.weight"].shape
    tokens = sd["backbone.pos_embed"].shape[1] - 1
    if image_size is None:
        wp = round(math.sqrt(tokens * 3 / 4))
        image_size = (tokens // wp * ph, wp * pw)
    if (image_size[0] // ph) * (image_size[1] // pw) != tokens:
        raise ValueError(f"image size {image_size} does not give the checkpoint's {tokens} patches; pass the size it was trained at")
    depth = _count(sd, "backbone.blocks.")
    heads = num_heads or HEADS_BY_WIDTH.get(dim, dim // 64)
    _, head = (layout or detect_layout(sd)).select(dataset)
    simple = head + "deconv_layers.0.weight" not in sd
    labels = min(NUM_KEYPOINTS[dataset], sd[head + "final_layer.weight"].shape[0])
    backbone = VitPoseBackboneConfig(
        image_size=list(image_size), patch_size=[ph, pw], hidden_size=dim, num_hidden_layers=depth,
        num_attention_heads=heads, mlp_ratio=sd["backbone.blocks.0.mlp.fc1.weight"].shape[0] // dim,
        qkv_bias="backbone.blocks.0.attn.qkv.bias" in sd, layer_norm_eps=LAYER_NORM_EPS, out_indices=[depth])
    return VitPoseConfig(backbone_config=backbone, num_labels=labels, use_simple_decoder=simple)


def convert_state_dict(sd: dict[str, Any], config: Any, dataset: str = "wholebody",
                       layout: Layout | None = None) -> dict[str, Any]:
    """Original keys -> VitPoseForPoseEstimation keys, for one dataset (its expert merged into fc2 unless the file
    has it merged already, its head)."""
    import torch

    dim = config.backbone_config.hidden_size
    expert, head = (layout or detect_layout(sd)).select(dataset)
    out: dict[str, Any] = {
        "backbone.embeddings.patch_embeddings.projection.weight": sd["backbone.patch_embed.proj.weight"],
        "backbone.embeddings.patch_embeddings.projection.bias": sd["backbone.patch_embed.proj.bias"],
        "backbone.embeddings.position_embeddings": sd["backbone.pos_embed"],
        "backbone.layernorm.weight": sd["backbone.last_norm.weight"],
        "backbone.layernorm.bias": sd["backbone.last_norm.bias"],
    }
    for i in range(config.backbone_config.num_hidden_layers):
        src, dst = f"backbone.blocks.{i}.", f"backbone.encoder.layer.{i}."
        for part in ("weight", "bias"):
            qkv = sd.get(f"{src}attn.qkv.{part}")
            if qkv is not None:
                for j, name in enumerate(("query", "key", "value")):
                    out[f"{dst}attention.attention.{name}.{part}"] = qkv[j * dim: (j + 1) * dim]
            out[f"{dst}attention.output.dense.{part}"] = sd[f"{src}attn.proj.{part}"]
            out[f"{dst}layernorm_before.{part}"] = sd[f"{src}norm1.{part}"]
            out[f"{dst}layernorm_after.{part}"] = sd[f"{src}norm2.{part}"]
            out[f"{dst}mlp.fc1.{part}"] = sd[f"{src}mlp.fc1.{part}"]
            fc2 = sd[f"{src}mlp.fc2.{part}"]
            if expert is not None:
                fc2 = torch.cat([fc2, sd[f"{src}mlp.experts.{expert}.{part}"]], 0)
            out[f"{dst}mlp.fc2.{part}"] = fc2
    k = config.num_labels
    for key, value in sd.items():
        if not key.startswith(head):
            continue
        rest = key[len(head):]
        if config.use_simple_decoder:
            name = {"final_layer.weight": "conv.weight", "final_layer.bias": "conv.bias"}.get(rest)
        else:
            name = _HEAD_KEYS.get(rest) or next((rest.replace(a, b) for a, b in _BN.items() if rest.startswith(a)), None)
        if name is None:
            raise ValueError(f"unexpected head tensor '{key}' in the ViTPose checkpoint")
        out[f"head.{name}"] = value[:k] if rest.startswith("final_layer") else value
    return out


def convert_vitpose(src: str | Path, out_dir: str | Path, dataset: str = "wholebody", num_heads: int | None = None,
                    image_size: tuple[int, int] | None = None, require_labels: int | None = None) -> tuple[Path, str]:
    """Write the transformers folder (config.json, model.safetensors, preprocessor_config.json) for `dataset`;
    with `require_labels`, a head of another size is refused before anything is written. Returns the folder and
    what the file was found to be (`Layout.describe`)."""
    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    from transformers import VitPoseForPoseEstimation, VitPoseImageProcessor

    sd = read_state_dict(src)
    if dataset not in DATASETS:
        raise ValueError(f"ViTPose dataset '{dataset}' unknown; use one of {DATASETS}")
    layout = detect_layout(sd)
    config = make_config(sd, dataset, num_heads, image_size, layout)
    if require_labels is not None and config.num_labels != require_labels:
        raise ValueError(f"its {dataset} head has {config.num_labels} outputs, not {require_labels} ({layout.describe()})")
    model = VitPoseForPoseEstimation(config).eval()
    missing, unexpected = model.load_state_dict(convert_state_dict(sd, config, dataset, layout), strict=False)
    if missing or unexpected:
        raise ValueError(f"'{src}': converted weights do not fit VitPose (missing {missing[:3]}, unexpected {unexpected[:3]})")
    out = Path(out_dir)
    model.save_pretrained(str(out))
    h, w = config.backbone_config.image_size
    VitPoseImageProcessor(size={"height": int(h), "width": int(w)}).save_pretrained(str(out))
    return out, layout.describe()
