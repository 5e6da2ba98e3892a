"""Record schemas of the two sets, defined once as Arrow schemas, with validation.

Images and masks are stored as encoded bytes (PNG/JPEG) inside the shard so a shard is
self-contained: DVC tracks a handful of shard files instead of millions of loose images, and
a shard can be copied to a worker without the source tree. `load_dataset("parquet")` reads them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from shoemodel.schemas.classes import NUM_CLASSES
from shoemodel.schemas.keypoints import NUM_KEYPOINTS

SCHEMA_VERSION = "1.1"  # 1.1: keypoints as 12 x (x, y, v) instead of 36 flat numbers

_COMMON = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("source_uri", pa.string(), nullable=False),
    pa.field("content_hash", pa.string(), nullable=False),
    pa.field("width", pa.int32(), nullable=False),
    pa.field("height", pa.int32(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("caption", pa.string()),
    pa.field("provenance", pa.string(), nullable=False),  # JSON object
]

SHOE_LEG_SCHEMA = pa.schema(
    _COMMON
    + [
        pa.field("image", pa.binary(), nullable=False),  # raw photo, encoded
        pa.field("shoe_image", pa.binary(), nullable=False),  # X_m: shoe pixels on black, PNG
        pa.field("shoe_mask", pa.binary(), nullable=False),  # PNG, L mode, 0 / 255
        # (12, 3): x, y, vis/score per keypoint (12 fixed lists of 3, so datasets reads 12 x (x, y, v))
        pa.field("keypoints", pa.list_(pa.list_(pa.float32(), 3), NUM_KEYPOINTS), nullable=False),
    ],
    metadata={b"shoemodel.set": b"shoe_leg", b"shoemodel.schema_version": SCHEMA_VERSION.encode()},
)

WEARABLE_AREA_SCHEMA = pa.schema(
    _COMMON
    + [
        pa.field("image", pa.binary(), nullable=False),  # product photo X, encoded
        pa.field("shoe_image", pa.binary(), nullable=False),  # X_m, PNG
        pa.field("area_mask", pa.binary(), nullable=False),  # PNG, L mode, class ids 0/1/2
        pa.field("annotation", pa.string()),  # JSON: annotator, round, lead time, agreement
    ],
    metadata={b"shoemodel.set": b"wearable_area", b"shoemodel.schema_version": SCHEMA_VERSION.encode()},
)

SCHEMAS: dict[str, pa.Schema] = {"shoe_leg": SHOE_LEG_SCHEMA, "wearable_area": WEARABLE_AREA_SCHEMA}


class RecordError(ValueError):
    """A record that does not fit its schema; names the field and the source."""

    def __init__(self, field: str, message: str, source: str | None = None):
        self.field, self.source = field, source
        where = f" (source: {source})" if source else ""
        super().__init__(f"field '{field}': {message}{where}")


def encode_png(array: np.ndarray) -> bytes:
    """Losslessly encode a uint8 image or mask as PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def decode_image(data: bytes, mode: str | None = "RGB", field: str = "image", source: str | None = None) -> np.ndarray:
    """Decode encoded image bytes to a uint8 array; raises RecordError naming the field on failure."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if mode is not None and im.mode != mode:
                im = im.convert(mode)
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise RecordError(field, f"cannot decode image bytes: {exc}", source) from exc
    except ImportError as exc:  # a PIL plugin registered by another library (e.g. HEIF) may be missing
        raise RecordError(field, f"cannot decode image bytes (no decoder: {exc})", source) from exc


def keypoints_array(record: Mapping[str, Any]) -> np.ndarray:
    """The (12, 3) keypoint array of a shoe-leg record."""
    return np.asarray(record["keypoints"], dtype=np.float32).reshape(NUM_KEYPOINTS, 3)


@dataclass(frozen=True)
class ValidationOptions:
    """How deep validation goes: decoding every image is exact but costs time at scale."""

    decode_images: bool = True


def validate_record(record: Mapping[str, Any], set_name: str, options: ValidationOptions = ValidationOptions()) -> None:
    """Check one record against its set's schema; raise RecordError naming the first bad field."""
    schema = SCHEMAS.get(set_name)
    if schema is None:
        raise ValueError(f"unknown set '{set_name}'; known: {sorted(SCHEMAS)}")
    source = record.get("source_uri") if isinstance(record.get("source_uri"), str) else None
    for field in schema:
        if field.name not in record:
            if field.nullable:
                continue
            raise RecordError(field.name, "missing", source)
        value = record[field.name]
        if value is None:
            if not field.nullable:
                raise RecordError(field.name, "is null", source)
            continue
        _check_type(field, value, source)
    extra = set(record) - set(schema.names)
    if extra:
        raise RecordError(sorted(extra)[0], f"not in the {set_name} schema", source)
    try:
        prov = json.loads(record["provenance"])
    except json.JSONDecodeError as exc:
        raise RecordError("provenance", f"not valid JSON: {exc}", source) from exc
    if not isinstance(prov, dict):
        raise RecordError("provenance", "must be a JSON object", source)
    if record["split"] not in ("train", "val", "test"):
        raise RecordError("split", f"'{record['split']}' is not one of train/val/test", source)
    if set_name == "shoe_leg":
        _check_keypoints(record, source)
    if options.decode_images:
        _check_images(record, set_name, source)


def _check_type(field: pa.Field, value: Any, source: str | None) -> None:
    t = field.type
    if pa.types.is_string(t) and not isinstance(value, str):
        raise RecordError(field.name, f"expected str, got {type(value).__name__}", source)
    if pa.types.is_binary(t) and not isinstance(value, (bytes, bytearray)):
        raise RecordError(field.name, f"expected bytes, got {type(value).__name__}", source)
    if pa.types.is_integer(t) and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise RecordError(field.name, f"expected int, got {type(value).__name__}", source)
    if pa.types.is_integer(t) and field.name in ("width", "height") and value <= 0:
        raise RecordError(field.name, f"must be positive, got {value}", source)
    if pa.types.is_fixed_size_list(t):
        shape = _fixed_shape(t)
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiu" or arr.shape != shape:
            raise RecordError(field.name, f"expected {' x '.join(map(str, shape))} numbers, got shape {arr.shape} "
                              f"dtype {arr.dtype}", source)
        if not np.all(np.isfinite(arr.astype(np.float64))):
            raise RecordError(field.name, "holds NaN or inf", source)


def _fixed_shape(t: pa.DataType) -> tuple[int, ...]:
    """The array shape a (nested) fixed-size list type holds: list<list<float>[3]>[12] -> (12, 3)."""
    shape = []
    while pa.types.is_fixed_size_list(t):
        shape.append(t.list_size)
        t = t.value_type
    return tuple(shape)


def _check_keypoints(record: Mapping[str, Any], source: str | None) -> None:
    k = keypoints_array(record)
    vis = k[:, 2] > 0
    w, h = record["width"], record["height"]
    if np.any(k[:, 2] < 0) or np.any(k[:, 2] > 2):
        raise RecordError("keypoints", "visibility/score must lie in [0, 2]", source)
    inside = (k[:, 0] >= 0) & (k[:, 0] < w) & (k[:, 1] >= 0) & (k[:, 1] < h)
    bad = np.where(vis & ~inside)[0]
    if bad.size:
        raise RecordError("keypoints", f"keypoint {int(bad[0])} is marked present but lies outside the {w}x{h} image", source)
    if np.any(k[~vis, :2] != 0):
        raise RecordError("keypoints", "missing keypoints must have x = y = 0", source)


def _check_images(record: Mapping[str, Any], set_name: str, source: str | None) -> None:
    w, h = record["width"], record["height"]
    img = decode_image(record["image"], None, "image", source)
    if img.shape[:2] != (h, w):
        raise RecordError("image", f"decoded size {img.shape[1]}x{img.shape[0]} != width x height {w}x{h}", source)
    shoe = decode_image(record["shoe_image"], None, "shoe_image", source)
    if shoe.shape[:2] != (h, w):
        raise RecordError("shoe_image", f"size {shoe.shape[1]}x{shoe.shape[0]} != {w}x{h}", source)
    mask_field = "shoe_mask" if set_name == "shoe_leg" else "area_mask"
    mask = decode_image(record[mask_field], None, mask_field, source)
    if mask.ndim != 2 or mask.shape != (h, w):
        raise RecordError(mask_field, f"expected a single-channel {w}x{h} mask, got shape {mask.shape}", source)
    if set_name == "wearable_area" and mask.size and int(mask.max()) >= NUM_CLASSES:
        raise RecordError(mask_field, f"class id {int(mask.max())} outside 0..{NUM_CLASSES - 1}", source)
    if set_name == "shoe_leg" and not set(np.unique(mask).tolist()) <= {0, 255}:
        raise RecordError(mask_field, "shoe mask must hold only 0 and 255", source)
