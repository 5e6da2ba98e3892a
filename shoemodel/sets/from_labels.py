"""Build a shard set from a labelled folder (labels.jsonl + image and mask files).

This is how the bundled sample, and any user data that already has labels, enters the shard
store. Each bad line (unreadable image, missing file, wrong field type) becomes a recorded
failure that names the line and the field; the rest of the set is still built.

Strict on what gets in: a repeated id is refused (the first line wins; each repeat is recorded
with its line), files must lie inside the labelled folder (unless `allow_outside`), 16-bit
images are scaled to 8 bits, EXIF orientation is applied and the mask checked against the upright
photo, masks must be 8-bit with the set's class values, and images above curation's pixel limit
are refused before decoding. Each shard is keyed on its lines and the content of the files they
name, so appending lines adds shards and editing a mask redoes only the shard that holds it.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel import __version__
from shoemodel.schemas.builder import MASK_FIELDS, build_record
from shoemodel.schemas.classes import NUM_CLASSES
from shoemodel.schemas.keypoints import NUM_KEYPOINTS
from shoemodel.schemas.records import RecordError, encode_png
from shoemodel.sets.config import SetsConfig
from shoemodel.store.content_cache import ContentCache, cache_dir
from shoemodel.store.manifest import Manifest
from shoemodel.store.writer import write_set

#: Mask values each set accepts (shoe_leg: binary as 0/255 or 0/1; wearable_area: the class ids).
MASK_VALUES = {"shoe_leg": (frozenset({0, 255}), frozenset({0, 1})), "wearable_area": (frozenset(range(NUM_CLASSES)),)}
_SWAPS_SIDES = {5, 6, 7, 8}  # EXIF orientations that turn the picture by 90 degrees


@dataclass(frozen=True)
class LabelLine:
    """One line of labels.jsonl with where it came from (for error messages), and the line of an earlier same id."""

    folder: str
    line_no: int
    text: str
    first_line: int | None = None  # set when an earlier line has the same id (this one is then refused)
    files: tuple[str, ...] = ()  # the file paths the line names (for the shard's content key)

    def __str__(self) -> str:
        return f"{self.folder}/labels.jsonl:{self.line_no}"


def iter_label_lines(folder: str | Path, set_name: str | None = None):
    """Stream the lines of <folder>/labels.jsonl (never all in memory), marking repeated ids (first wins)."""
    folder = Path(folder)
    path = folder / "labels.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no labels.jsonl; a labelled folder needs one line per image")
    first: dict[str, int] = {}
    file_fields = ("image", MASK_FIELDS[set_name]) if set_name else ("image",)
    with path.open() as fh:
        for i, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                label = json.loads(text)
            except json.JSONDecodeError:
                label = None
            rid = label.get("id") if isinstance(label, dict) else None
            seen = first.setdefault(rid, i) if isinstance(rid, str) else i
            files = tuple(str(label[f]) for f in file_fields if isinstance(label, dict) and isinstance(label.get(f), str))
            yield LabelLine(str(folder), i, text, seen if seen != i else None, files)


def _read_bytes(folder: Path, rel: Any, field: str, source: str, allow_outside: bool = False) -> tuple[bytes, str]:
    if not isinstance(rel, str):
        raise RecordError(field, f"expected a relative file path (str), got {type(rel).__name__}", source)
    path = folder / rel
    if not allow_outside and not _inside(path, folder):
        raise RecordError(field, f"path {rel!r} leaves the labelled folder {folder} (give --allow-outside to permit it)", source)
    if not path.is_file():
        raise RecordError(field, f"file not found: {path}", source)
    return path.read_bytes(), str(path)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def load_image(data: bytes, path: str, max_pixels: int) -> tuple[bytes, np.ndarray, int, tuple[int, int]]:
    """Image bytes -> (bytes to store, upright RGB uint8, EXIF orientation, size as stored in the file).

    16-bit pictures are scaled to 8 bits (never clipped to white); an oriented photo is turned upright and
    stored as PNG; a picture over `max_pixels` is refused from its header, before decoding."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise RecordError("image", f"too large: {exc}", path) from exc
    except Exception as exc:  # noqa: BLE001
        raise RecordError("image", f"cannot decode image bytes: {exc}", path) from exc
    with im:
        raw_size = im.size
        if raw_size[0] * raw_size[1] > max_pixels:
            raise RecordError("image", f"too large: {raw_size[0]}x{raw_size[1]} pixels > {max_pixels} (curation's limit)", path)
        try:
            im.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise RecordError("image", f"cannot decode image bytes: {exc}", path) from exc
        orientation = int(im.getexif().get(0x0112, 1) or 1)
        converted = False
        if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
            arr = np.asarray(im, dtype=np.int64)
            top = 65535 if arr.max(initial=0) > 255 or im.mode.startswith("I;16") else 255
            im = Image.fromarray(np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8), "L")
            converted = True
        elif im.mode == "F":
            raise RecordError("image", "32-bit float image: convert it to 8 or 16 bits", path)
        if orientation != 1:
            im = ImageOps.exif_transpose(im)
            converted = True
        rgb = np.asarray(im.convert("RGB"))
    out = encode_png(rgb) if converted else data
    return out, rgb, orientation, raw_size


def load_mask(data: bytes, path: str, field: str, set_name: str) -> np.ndarray:
    """A mask file -> uint8 (H, W); 8-bit single-channel with the set's class values, else RecordError saying why."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            mode = im.mode
            arr = np.asarray(im)
    except Exception as exc:  # noqa: BLE001
        raise RecordError(field, f"cannot decode image bytes: {exc}", path) from exc
    if arr.ndim == 3:
        raise RecordError(field, f"expected a single-channel mask, got {arr.shape[2]} channels", path)
    if mode not in ("L", "P", "1"):
        raise RecordError(field, f"mask must be 8-bit (mode L or P), got mode {mode}: a 16-bit mask would wrap class ids", path)
    arr = arr.astype(np.uint8)
    values = set(np.unique(arr).tolist())
    allowed = MASK_VALUES[set_name]
    if not any(values <= a for a in allowed):
        bad = sorted(values - set().union(*allowed))[:8]
        raise RecordError(field, f"mask values {bad} are not classes of {set_name} "
                                 f"(allowed: {' or '.join(str(sorted(a)) for a in allowed)})", path)
    return arr


def record_from_label(line: LabelLine, set_name: str, config: SetsConfig | None = None) -> dict[str, Any]:
    """Turn one labels.jsonl line into a schema record (raises RecordError naming the field)."""
    config = config or SetsConfig()
    source = str(line)
    if line.first_line is not None:
        raise RecordError("id", f"repeats the id of line {line.first_line} (the first line wins)", source)
    try:
        label = json.loads(line.text)
    except json.JSONDecodeError as exc:
        raise RecordError("<line>", f"not valid JSON: {exc}", source) from exc
    if not isinstance(label, dict):
        raise RecordError("<line>", "must be a JSON object", source)
    folder = Path(line.folder)
    raw_bytes, image_path = _read_bytes(folder, label.get("image"), "image", source, config.allow_outside)
    image_bytes, image, orientation, raw_size = load_image(raw_bytes, image_path, config.max_pixels)
    mask_field = MASK_FIELDS[set_name]
    mask_bytes, mask_path = _read_bytes(folder, label.get(mask_field), mask_field, source, config.allow_outside)
    mask = load_mask(mask_bytes, mask_path, mask_field, set_name)
    h, w = image.shape[:2]
    if mask.shape != (h, w):
        msg = f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {w}x{h}"
        if orientation != 1:
            msg += (f" after its EXIF orientation {orientation} is applied (the file stores {raw_size[0]}x{raw_size[1]}); "
                    "draw the mask on the upright photo")
        raise RecordError(mask_field, msg, mask_path)
    record_id, split = _str(label, "id", source), _str(label, "split", source)
    if set_name == "shoe_leg":
        fields: dict[str, Any] = {"shoe_mask": ((mask > 0) * 255).astype(np.uint8),
                                  "keypoints": _keypoints(label.get("keypoints"), source)}
    else:  # an 8-bit mask file is stored as it is
        fields = {"area_mask": mask_bytes if Path(mask_path).suffix.lower() == ".png" else mask,
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


INPUT_CACHE = "inputs.json"  # in store.content_cache.cache_dir(out): outside the set, which must not hold mtimes


def _chunk_key(folder: Path, cache: ContentCache, settings: str, _index: int, chunk: list[LabelLine]) -> str:
    """A shard's key: the settings, and per line its number, text, repeat mark and the content of its files."""
    h = hashlib.sha256(settings.encode())
    for line in chunk:
        h.update(f"{line.line_no}\0{line.text}\0{line.first_line}\0".encode())
        for f in line.files:
            h.update(f"{f}:{cache.digest(folder / f)}\0".encode())
    return h.hexdigest()[:16]


def build_set_from_labels(folder: str | Path, out: str | Path, set_name: str, config: SetsConfig = SetsConfig(),
                          executor: Any = None, progress: bool = True) -> Manifest:
    """Build (or resume, or extend) the shard set at `out` from the labelled `folder`.

    Shards whose lines and files are unchanged are kept (size + mtime checked, SHA-256 when they differ);
    a changed image, mask or line redoes its shard; lines appended to labels.jsonl add shards.
    """
    from shoemodel.schemas.records import ValidationOptions

    folder = Path(folder)
    settings = {"records_per_shard": config.records_per_shard, "set": set_name, "decode_check": config.decode_check,
                "max_pixels": config.max_pixels, "allow_outside": config.allow_outside, "version": __version__}
    cache = ContentCache(cache_dir(out) / INPUT_CACHE)
    (Path(out) / ".inputs.json").unlink(missing_ok=True)  # where older versions kept it
    key = partial(_chunk_key, folder, cache, json.dumps(settings, sort_keys=True))
    manifest = write_set(
        out, set_name, iter_label_lines(folder, set_name), partial(record_from_label, set_name=set_name, config=config),
        records_per_shard=config.records_per_shard, executor=executor, fingerprint={**settings, "keyed": "per-shard"},
        validation=ValidationOptions(decode_images=config.decode_check),
        provenance={"source": str(folder), "builder": "shoemodel build-set", "version": __version__},
        progress=progress, desc=f"build {set_name}", chunk_fingerprint=key,
    )
    cache.save()
    return manifest
