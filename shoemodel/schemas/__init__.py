"""Schemas: keypoint definitions, class maps, record schemas, the record builder and coordinate normalisation."""

from shoemodel.schemas.builder import MASK_FIELDS, build_record, content_hash_of
from shoemodel.schemas.classes import CLASS_COLORS, CLASS_NAMES, NUM_CLASSES, wearable_shoe_image
from shoemodel.schemas.keypoints import (
    FLIP_PAIRS,
    FOOT_INDICES,
    KEYPOINT_NAMES,
    LEG_INDICES,
    NUM_KEYPOINTS,
    SKELETON,
    flip_keypoints,
)
from shoemodel.schemas.normalize import denormalize_coords, normalize_coords
from shoemodel.schemas.records import (
    SCHEMA_VERSION,
    SCHEMAS,
    SHOE_LEG_SCHEMA,
    WEARABLE_AREA_SCHEMA,
    RecordError,
    decode_image,
    encode_png,
    keypoints_array,
    validate_record,
)

__all__ = [
    "MASK_FIELDS", "build_record", "content_hash_of",
    "CLASS_COLORS", "CLASS_NAMES", "NUM_CLASSES", "wearable_shoe_image",
    "FLIP_PAIRS", "FOOT_INDICES", "KEYPOINT_NAMES", "LEG_INDICES", "NUM_KEYPOINTS", "SKELETON", "flip_keypoints",
    "denormalize_coords", "normalize_coords",
    "SCHEMA_VERSION", "SCHEMAS", "SHOE_LEG_SCHEMA", "WEARABLE_AREA_SCHEMA", "RecordError", "decode_image",
    "encode_png", "keypoints_array", "validate_record",
]
