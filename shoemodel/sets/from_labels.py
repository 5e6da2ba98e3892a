"""Build a shard set from a labelled folder (labels.jsonl + image and mask files).

This is how the bundled sample, and any user data that already has labels, enters the shard
store. Each bad line (unreadable image, missing file, wrong field type) becomes a recorded
failure that names the line and the field; the rest of the set is still built.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel import __version__
from shoemodel.schemas.builder import MASK_FIELDS, build_record
from shoemodel.schemas.keypoints import NUM_KEYPOINTS
from shoemodel.schemas.records import RecordError, decode_image
from shoemodel.store.manifest import Manifest
from shoemodel.store.writer import write_set


@dataclass
class BuildConfig:
    """params.yaml `sets`: shard size and whether to decode-check every image."""

    records_per_shard: int = 128
    decode_check: bool = True


@dataclass(frozen=True)
class LabelLine:
    """One line of labels.jsonl with where it came from (for error messages)."""

    folder: str
    line_no: int
    text: str

    def __str__(self) -> str:
        return f"{self.folder}/labels.jsonl:{self.line_no}"


def iter_label_lines(folder: str | Path):
    """Stream the lines of <folder>/labels.jsonl (never all in memory)."""
    folder = Path(folder)
    path = folder / "labels.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no labels.jsonl; a labelled folder needs one line per image")
    with path.open() as fh:
        for i, text in enumerate(fh, start=1):
            if text.strip():
                yield LabelLine(str(folder), i, text)


def _read_bytes(folder: Path, rel: Any, field: str, source: str) -> tuple[bytes, str]:
    if not isinstance(rel, str):
        raise RecordError(field, f"expected a relative file path (str), got {type(rel).__name__}", source)
    path = folder / rel
    if not path.is_file():
        raise RecordError(field, f"file not found: {path}", source)
    return path.read_bytes(), str(path)


def record_from_label(line: LabelLine, set_name: str) -> dict[str, Any]:
    """Turn one labels.jsonl line into a schema record (raises RecordError naming the field)."""
    source = str(line)
    try:
        label = json.loads(line.text)
    except json.JSONDecodeError as exc:
        raise RecordError("<line>", f"not valid JSON: {exc}", source) from exc
    if not isinstance(label, dict):
        raise RecordError("<line>", "must be a JSON object", source)
    folder = Path(line.folder)
    image_bytes, image_path = _read_bytes(folder, label.get("image"), "image", source)
    image = decode_image(image_bytes, "RGB", "image", image_path)
    mask_field = MASK_FIELDS[set_name]
    mask_bytes, mask_path = _read_bytes(folder, label.get(mask_field), mask_field, source)
    mask = decode_image(mask_bytes, None, mask_field, mask_path)
    if mask.ndim == 3:
        raise RecordError(mask_field, f"expected a single-channel mask, got {mask.shape[2]} channels", mask_path)
    h, w = image.shape[:2]
    if mask.shape != (h, w):
        raise RecordError(mask_field, f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {w}x{h}", mask_path)
    record_id, split = _str(label, "id", source), _str(label, "split", source)
    if set_name == "shoe_leg":
        fields: dict[str, Any] = {"shoe_mask": ((mask > 0) * 255).astype(np.uint8),
                                  "keypoints": _keypoints(label.get("keypoints"), source)}
    else:  # an 8-bit mask file is stored as it is
        fields = {"area_mask": mask_bytes if mask.dtype == np.uint8 else mask.astype(np.uint8),
                  "annotation": label.get("annotation")}
    return build_record(
        set_name, id=record_id, source_uri=image_path, split=split, caption=label.get("caption"), image=image_bytes,
        shoe_image=np.where((mask > 0)[..., None], image, 0).astype(np.uint8),
        provenance={"builder": "shoemodel.sets.from_labels", "version": __version__, "labels": source},
        sort_keys=False, **fields,
    )


def _str(label: dict[str, Any], field: str, source: str) -> str:
    value = label.get(field)
    if not isinstance(value, str):
        raise RecordError(field, f"expected str, got {type(value).__name__}", source)
    return value


def _keypoints(value: Any, source: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise RecordError("keypoints", f"not numeric: {exc}", source) from exc
    if arr.shape != (NUM_KEYPOINTS, 3):
        raise RecordError("keypoints", f"expected shape ({NUM_KEYPOINTS}, 3), got {arr.shape}", source)
    return arr


def build_set_from_labels(folder: str | Path, out: str | Path, set_name: str, config: BuildConfig = BuildConfig(),
                          executor: Any = None, progress: bool = True) -> Manifest:
    """Build (or resume) the shard set at `out` from the labelled `folder`."""
    from shoemodel.schemas.records import ValidationOptions

    folder = Path(folder)
    labels = folder / "labels.jsonl"
    fingerprint = {
        "labels_sha256": hashlib.sha256(labels.read_bytes()).hexdigest() if labels.exists() else None,
        "records_per_shard": config.records_per_shard, "set": set_name,
    }
    return write_set(
        out, set_name, iter_label_lines(folder), partial(record_from_label, set_name=set_name),
        records_per_shard=config.records_per_shard, executor=executor, fingerprint=fingerprint,
        validation=ValidationOptions(decode_images=config.decode_check),
        provenance={"source": str(folder), "builder": "shoemodel build-set", "version": __version__},
        progress=progress, desc=f"build {set_name}",
    )
