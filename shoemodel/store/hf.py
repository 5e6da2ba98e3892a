"""How a set reads in Hugging Face `datasets`: its features (images and masks as `Image()`, keypoints as
12 x (x, y, v)), for the dataset card and for `load_dataset(..., features=...)`.

The shards store images as plain encoded bytes (every reader of the project takes them so). `datasets`
only takes features from a Parquet file's `huggingface` schema metadata for columns whose Arrow type is
already the feature's (an `Image()` is struct<bytes, path>), so the features reach it through the card
(`load_dataset(SET)`) or `set_features` (`load_dataset("parquet", data_dir=SET, features=...)`), which cast
the bytes to images on load. Kept as plain JSON dicts here, so writing a set never imports `datasets`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

#: Binary columns that hold an encoded image or mask (PNG / JPEG bytes).
IMAGE_COLUMNS = ("image", "shoe_image", "shoe_mask", "area_mask")
#: Record split -> the split name `datasets` gives it (from the shard file name, see store.writer).
HF_SPLITS = {"train": "train", "val": "validation", "test": "test"}

_VALUE_TYPES = {pa.string(): "string", pa.int32(): "int32", pa.int64(): "int64", pa.float32(): "float32",
                pa.float64(): "float64", pa.bool_(): "bool", pa.binary(): "binary"}


def feature_of(field: pa.Field | pa.DataType, name: str = "") -> dict[str, Any]:
    """The `datasets` feature (as its JSON dict) of one Arrow field."""
    t = field.type if isinstance(field, pa.Field) else field
    name = field.name if isinstance(field, pa.Field) else name
    if name in IMAGE_COLUMNS and pa.types.is_binary(t):
        return {"_type": "Image"}
    if pa.types.is_fixed_size_list(t):
        return {"feature": feature_of(t.value_type), "length": t.list_size, "_type": "List"}
    if pa.types.is_list(t):
        return {"feature": feature_of(t.value_type), "_type": "List"}
    if t not in _VALUE_TYPES:
        raise TypeError(f"column '{name}': no datasets feature for Arrow type {t}")
    return {"dtype": _VALUE_TYPES[t], "_type": "Value"}


def hf_features(schema: pa.Schema) -> dict[str, Any]:
    """Column name -> feature dict, in the schema's column order."""
    return {f.name: feature_of(f) for f in schema}


def set_features(set_name: str) -> Any:
    """The `datasets.Features` of set `set_name` (shoe_leg or wearable_area)."""
    from datasets import Features

    from shoemodel.schemas.records import SCHEMAS

    if set_name not in SCHEMAS:
        raise ValueError(f"unknown set '{set_name}'; known: {sorted(SCHEMAS)}")
    return Features.from_dict(hf_features(SCHEMAS[set_name]))
