"""Segformer with 3 output classes (paper §3.1), MiT sizes b0-b5 by name, a tiny size for tests/CPU."""

from __future__ import annotations

from typing import Any

from shoemodel.models.runtime import prepare_imports
from shoemodel.schemas.classes import CLASS_NAMES, TWO_CLASS_NAMES

#: MiT encoder sizes of the Segformer paper (hidden sizes, depths, heads, decoder width).
MIT_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 1, 1], num_attention_heads=[1, 2, 3, 4],
                 decoder_hidden_size=64),
    "b0": dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2], decoder_hidden_size=256),
    "b1": dict(hidden_sizes=[64, 128, 320, 512], depths=[2, 2, 2, 2], decoder_hidden_size=256),
    "b2": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3], decoder_hidden_size=768),
    "b3": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 18, 3], decoder_hidden_size=768),
    "b4": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 8, 27, 3], decoder_hidden_size=768),
    "b5": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 6, 40, 3], decoder_hidden_size=768),
}


def class_names(two_class: bool) -> tuple[str, ...]:
    return TWO_CLASS_NAMES if two_class else CLASS_NAMES


def segformer_config(model_size: str, two_class: bool = False) -> Any:
    """A `SegformerConfig` for a MiT size with 3 (or 2) labels."""
    prepare_imports()
    from transformers import SegformerConfig

    if model_size not in MIT_PRESETS:
        raise ValueError(f"unknown Segformer size '{model_size}'; known: {sorted(MIT_PRESETS)}")
    names = class_names(two_class)
    return SegformerConfig(num_labels=len(names), id2label=dict(enumerate(names)),
                           label2id={n: i for i, n in enumerate(names)}, **MIT_PRESETS[model_size])


def build_segformer(model_size: str, two_class: bool = False, pretrained: str = "") -> Any:
    """Random init from the preset, or a local pretrained checkpoint with a fresh 3-class head."""
    prepare_imports()
    from transformers import SegformerForSemanticSegmentation

    cfg = segformer_config(model_size, two_class)
    if pretrained:
        from pathlib import Path

        if not Path(pretrained).exists():
            raise FileNotFoundError(f"pretrained Segformer/MiT checkpoint '{pretrained}' not found; download e.g. "
                                    f"nvidia/mit-{model_size} and pass its folder as train.wd.pretrained")
        return SegformerForSemanticSegmentation.from_pretrained(
            pretrained, num_labels=cfg.num_labels, id2label=cfg.id2label, label2id=cfg.label2id,
            ignore_mismatched_sizes=True)
    return SegformerForSemanticSegmentation(cfg)
