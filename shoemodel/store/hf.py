"""How a set reads in Hugging Face `datasets`: its features (images and masks as `Image()`, keypoints as
12 x (x, y, v)), for the dataset card and for `load_dataset(..., features=...)`.

Every shard carries the features in its Arrow schema's `huggingface` metadata (`shard_schema`), and stores
images as an `Image()` does (struct<bytes, path>, see schemas.records): `datasets` applies a file's
features only to fields equal to the feature's own Arrow field, so `load_dataset("parquet", data_dir=SET)`
alone gives `Image()` columns. The card (`load_dataset(SET)`) and `set_features` (for `features=`, also over
sets of schema 1.1 and older, whose images are plain binary) say the same. Kept as plain JSON dicts here, so
writing a set never imports `datasets`.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from shoemodel.schemas.records import SCHEMAS, is_image_type

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
    if name in IMAGE_COLUMNS and (pa.types.is_binary(t) or is_image_type(t)):
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

    if set_name not in SCHEMAS:
        raise ValueError(f"unknown set '{set_name}'; known: {sorted(SCHEMAS)}")
    return Features.from_dict(hf_features(SCHEMAS[set_name]))


def shard_schema(set_name: str) -> pa.Schema:
    """The Arrow schema a shard of `set_name` is written with: the record schema plus its `huggingface`
    features metadata (the key and layout `datasets` writes and reads)."""
    schema = SCHEMAS[set_name]
    meta = {**(schema.metadata or {}), b"huggingface": json.dumps({"info": {"features": hf_features(schema)}}).encode()}
    return schema.with_metadata(meta)
