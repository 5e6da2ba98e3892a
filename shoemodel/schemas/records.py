"""Record schemas of the two sets, defined once as Arrow schemas, with validation.

Images and masks are stored as encoded bytes (PNG/JPEG) inside the shard so a shard is
self-contained: DVC tracks a handful of shard files instead of millions of loose images, and
a shard can be copied to a worker without the source tree. Each sits in the layout of a `datasets.Image()`
feature, struct<bytes, path> with path null, so `load_dataset("parquet", data_dir=SET)` decodes them
(schema 1.2; 1.1 and older stored plain binary). In memory a record holds the bytes themselves: the writer
wraps them (`stored_row`) and the readers unwrap them (`plain_images`), so both layouts read alike.
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

SCHEMA_VERSION = "1.2"  # 1.1: keypoints as 12 x (x, y, v); 1.2: images as struct<bytes, path> (datasets' Image)

#: The stored layout of an image or mask: that of `datasets.Image()` (path stays null: the bytes are the image).
IMAGE_STORAGE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])
#: Field metadata that marks a column every record must fill though Arrow calls it nullable.
_REQUIRED = {b"shoemodel.required": b"true"}


def _image_field(name: str) -> pa.Field:
    """An image column: nullable in Arrow only because `datasets` applies a file's Image() feature to a field
    equal to its own (always nullable); validation still requires it."""
    return pa.field(name, IMAGE_STORAGE, nullable=True, metadata=_REQUIRED)


def is_required(field: pa.Field) -> bool:
    """Whether every record must fill `field`."""
    return not field.nullable or (field.metadata or {}).get(b"shoemodel.required") == b"true"


def is_image_type(t: pa.DataType) -> bool:
    """Whether `t` is the stored image layout struct<bytes, path> (in any child order or nullability)."""
    return pa.types.is_struct(t) and t.num_fields == 2 and {t.field(i).name for i in range(2)} == {"bytes", "path"}

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
        _image_field("image"),  # raw photo, encoded
        _image_field("shoe_image"),  # X_m: shoe pixels on black, PNG
        _image_field("shoe_mask"),  # PNG, L mode, 0 / 255
        # (12, 3): x, y, vis/score per keypoint (12 fixed lists of 3, so datasets reads 12 x (x, y, v))
        pa.field("keypoints", pa.list_(pa.list_(pa.float32(), 3), NUM_KEYPOINTS), nullable=False),
    ],
    metadata={b"shoemodel.set": b"shoe_leg", b"shoemodel.schema_version": SCHEMA_VERSION.encode()},
)

WEARABLE_AREA_SCHEMA = pa.schema(
    _COMMON
    + [
        _image_field("image"),  # product photo X, encoded
        _image_field("shoe_image"),  # X_m, PNG
        _image_field("area_mask"),  # PNG, L mode, class ids 0/1/2
        pa.field("annotation", pa.string()),  # JSON: annotator, round, lead time, agreement
    ],
    metadata={b"shoemodel.set": b"wearable_area", b"shoemodel.schema_version": SCHEMA_VERSION.encode()},
)

SCHEMAS: dict[str, pa.Schema] = {"shoe_leg": SHOE_LEG_SCHEMA, "wearable_area": WEARABLE_AREA_SCHEMA}


def image_bytes(value: Any) -> Any:
    """The encoded bytes of an image value: the bytes themselves, or the `bytes` of a stored {bytes, path}."""
    if isinstance(value, Mapping) and "bytes" in value:
        return value["bytes"]
    return value


def stored_row(record: Mapping[str, Any], schema: pa.Schema) -> dict[str, Any]:
    """A record in its stored layout: each image column's bytes as {bytes, path: None} (an Image() value)."""
    row = dict(record)
    for field in schema:
        if field.type == IMAGE_STORAGE and row.get(field.name) is not None:
            row[field.name] = {"bytes": image_bytes(row[field.name]), "path": None}
    return row


def plain_images(data: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """`data` with every struct<bytes, path> image column replaced by its bytes, so readers of either layout
    (and every `decode_image(rec["image"])`) see plain binary."""
    import pyarrow.compute as pc

    for i, field in enumerate(data.schema):
        if is_image_type(field.type):
            data = data.set_column(i, pa.field(field.name, pa.binary(), field.nullable, field.metadata),
                                   pc.struct_field(data.column(i), "bytes"))
    return data


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


def decode_image(data: bytes | Mapping[str, Any], mode: str | None = "RGB", field: str = "image",
                 source: str | None = None) -> np.ndarray:
    """Decode encoded image bytes (or a stored {bytes, path}) to a uint8 array; raises RecordError naming the field."""
    from PIL import Image, UnidentifiedImageError

    data = image_bytes(data)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise RecordError(field, f"expected encoded image bytes, got {type(data).__name__}", source)
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
            if not is_required(field):
                continue
            raise RecordError(field.name, "missing", source)
        value = record[field.name]
        if value is None:
            if is_required(field):
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
    if t == IMAGE_STORAGE:
        value = image_bytes(value)
        if not isinstance(value, (bytes, bytearray)):
            raise RecordError(field.name, f"expected encoded image bytes, got {type(value).__name__}", source)
        return
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
