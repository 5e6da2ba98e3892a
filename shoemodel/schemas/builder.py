"""Make a schema record from its parts, in one place for every set builder.

Like a `datasets.Features` object, the schema owns the encoding: callers hand over arrays (or bytes
already encoded, or a stored {bytes, path} image value) and Python objects, never a hand-assembled row.
Arrays become PNG, images are held as their bytes (the writer stores them as an Image() does), dicts become
JSON, keypoints 12 rows of (x, y, v), width and height come from the image, the content hash is the one the
project uses, and the record is checked against its schema before anyone writes it.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np

from shoemodel.schemas.keypoints import NUM_KEYPOINTS
from shoemodel.schemas.records import (
    SCHEMAS,
    RecordError,
    ValidationOptions,
    encode_png,
    image_bytes,
    validate_record,
)

#: The mask column of each set: a 0/255 shoe mask for shoe-leg, class ids 0/1/2 for wearable-area.
MASK_FIELDS: dict[str, str] = {"shoe_leg": "shoe_mask", "wearable_area": "area_mask"}

#: Checks that need no decoding; `store.write_set` decodes the images itself when its options say so.
STRUCTURE_ONLY = ValidationOptions(decode_images=False)


def content_hash_of(data: bytes) -> str:
    """SHA-256 of a photo's encoded bytes as read: the record's identity (dedup, splits, DVC hashes)."""
    return hashlib.sha256(data).hexdigest()


def build_record(
    set_name: str,
    *,
    id: str,
    source_uri: str,
    image: np.ndarray | bytes,
    shoe_image: np.ndarray | bytes,
    split: str,
    provenance: dict[str, Any],
    shoe_mask: np.ndarray | bytes | None = None,
    area_mask: np.ndarray | bytes | None = None,
    keypoints: Any = None,
    caption: str | None = None,
    annotation: Any = None,
    content_hash: str | None = None,
    sort_keys: bool = True,
    validation: ValidationOptions = STRUCTURE_ONLY,
) -> dict[str, Any]:
    """One validated record of `set_name`; raises RecordError naming the field and source.

    Arrays are encoded as PNG, bytes are kept as they are. `content_hash` defaults to the hash of the
    image bytes; pass it when the stored bytes are not the source file's (ingest re-encodes EXIF-rotated
    photos but keeps the hash of the file it read). `sort_keys=False` keeps the caller's JSON key order:
    build-set's shards were first written that way, and DVC compares their hashes.
    """
    if set_name not in SCHEMAS:
        raise ValueError(f"unknown set '{set_name}'; known: {sorted(SCHEMAS)}")
    encoded = _encoded(image)
    width, height = _size(image_bytes(image), encoded, source_uri)
    record: dict[str, Any] = {
        "id": id,
        "source_uri": source_uri,
        "content_hash": content_hash_of(encoded) if content_hash is None else content_hash,
        "width": width,
        "height": height,
        "split": split,
        "caption": caption,
        "provenance": json.dumps(provenance, sort_keys=sort_keys),
        "image": encoded,
        "shoe_image": _encoded(shoe_image),
    }
    # Fields given that the set has no column for stay in, so validation names them.
    for name, value in (("shoe_mask", shoe_mask), ("area_mask", area_mask)):
        if value is not None:
            record[name] = _encoded(value)
    if keypoints is not None:
        record["keypoints"] = _keypoint_rows(keypoints, source_uri)
    if set_name == "wearable_area" or annotation is not None:
        record["annotation"] = None if annotation is None else json.dumps(annotation, sort_keys=sort_keys)
    validate_record(record, set_name, validation)
    return record


def _encoded(value: np.ndarray | bytes | dict[str, Any]) -> bytes:
    value = image_bytes(value)
    return bytes(value) if isinstance(value, (bytes, bytearray)) else encode_png(np.asarray(value))


def _size(image: np.ndarray | bytes, data: bytes, source: str) -> tuple[int, int]:
    """(width, height) from the array, or from the encoded header without decoding the pixels."""
    if not isinstance(image, (bytes, bytearray)):
        h, w = np.asarray(image).shape[:2]
        return int(w), int(h)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise RecordError("image", f"cannot decode image bytes: {exc}", source) from exc
    except ImportError as exc:  # a PIL opener patched in by another library (ultralytics' HEIF retry) lacks its plugin
        raise RecordError("image", f"cannot decode image bytes (no decoder: {exc})", source) from exc


def _keypoint_rows(keypoints: Any, source: str) -> list[list[float]]:
    """Keypoints (flat 36 or (12, 3)) as 12 rows of (x, y, v), the stored layout."""
    arr = np.asarray(keypoints, dtype=np.float32)
    if arr.size != NUM_KEYPOINTS * 3:
        raise RecordError("keypoints", f"expected ({NUM_KEYPOINTS}, 3) keypoints, got shape {arr.shape}", source)
    return arr.reshape(NUM_KEYPOINTS, 3).tolist()
