"""Load any shoemodel set (shoe_leg or wearable_area shards) into a persistent FiftyOne dataset.

FiftyOne wants media on disk, so images and masks are written once under a media folder and the
samples point at them (masks by path, not inside MongoDB, so a large set stays light in the
database). Keypoints carry the schema's names and skeleton and their visibility flag as the
`visibility` attribute; masks carry mask targets and are coloured by value in the schema's class
colours (black / blue / yellow), and the App opens with masks and keypoints shown; image metadata
(width, height, size) is computed. With a WD predictor, its masks sit beside the ground truth with
per-sample scores and a saved view of the worst samples. Dropped items from the set's recorded
failures become tagged samples with one saved view per reason; a curated set's ledger adds every photo
and person curation dropped or failed, and a quality on each record (`browse_ledger`). A set whose manifest
did not change is not reloaded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.annotation.agreement import mean_iou
from shoemodel.annotation.browse_ledger import add_quality, ledger_samples, ledger_work_dir, save_views
from shoemodel.compat.fiftyone import import_fiftyone
from shoemodel.schemas.classes import CLASS_HEX, CLASS_NAMES, WEARABLE
from shoemodel.schemas.keypoints import KEYPOINT_NAMES, SKELETON
from shoemodel.schemas.records import decode_image, encode_png, keypoints_array
from shoemodel.store import iter_failures, iter_records, read_manifest
from shoemodel.store.atomic import write_bytes_if_changed
from shoemodel.store.manifest import MANIFEST_NAME
from shoemodel.store.names import id_file_name

AREA_TARGETS = {i: name for i, name in enumerate(CLASS_NAMES)}
SHOE_TARGETS = {255: "shoe"}
SHOE_MASK_COLOR = "#00ff00"  # the shoe mask is one class (not a WD class): green, apart from blue/yellow
PREDICTION_FIELD = "wd_prediction"
LABEL_FIELDS = ("keypoints", "shoe_mask", "area_mask", PREDICTION_FIELD)
#: How many of the lowest-mIoU samples the `worst-wd` saved view holds.
WORST_WD = 25


def dataset_name(root: str | Path) -> str:
    """Default dataset name of a set folder: shoemodel-<set folder name>."""
    return f"shoemodel-{Path(root).resolve().name}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "unknown"


def _write_media(data: bytes, path_no_ext: Path) -> Path:
    """Keep PNG/JPEG bytes as they are; anything else is decoded and re-encoded as PNG."""
    ext = ".png" if data[:4] == b"\x89PNG" else ".jpg" if data[:2] == b"\xff\xd8" else None
    path = path_no_ext.with_suffix(ext or ".png")
    write_bytes_if_changed(path, data if ext else encode_png(decode_image(data, "RGB")))  # a rebuilt set replaces old media
    return path


def _keypoints(record: Mapping[str, Any]) -> Any:
    fo = import_fiftyone()

    k = keypoints_array(record)
    w, h = float(record["width"]), float(record["height"])
    points = [(float(x) / w, float(y) / h) if v > 0 else (float("nan"), float("nan")) for x, y, v in k]
    # v is the schema's visibility flag (0 missing, 1 occluded, 2 visible; or a detector score): its own attribute
    return fo.Keypoints(keypoints=[fo.Keypoint(label="legs", points=points, visibility=[float(v) for v in k[:, 2]])])


def _color_scheme() -> Any:
    """Masks coloured by value (class id -> the schema's class colour), not one colour per field."""
    fo = import_fiftyone()

    area_colors = [{"intTarget": i, "color": CLASS_HEX[i]} for i in range(1, len(CLASS_HEX))]
    return fo.ColorScheme(
        color_by="value",
        fields=[
            {"path": "area_mask", "maskTargetsColors": area_colors},
            {"path": PREDICTION_FIELD, "maskTargetsColors": area_colors},
            {"path": "shoe_mask", "maskTargetsColors": [{"intTarget": 255, "color": SHOE_MASK_COLOR}]},
        ],
        default_mask_targets_colors=area_colors,
        show_skeletons=True,
        opacity=0.5,
    )


def load_set(root: str | Path, name: str | None = None, media_dir: str | Path = "data/fiftyone",
             predictor: Callable[[np.ndarray], np.ndarray] | None = None, overwrite: bool = False) -> Any:
    """The persistent FiftyOne dataset of a set (built, or reused when its manifest is unchanged)."""
    fo = import_fiftyone()
    from fiftyone import ViewField as F

    root = Path(root)
    manifest = read_manifest(root)
    name = name or dataset_name(root)
    digest = hashlib.sha256((root / MANIFEST_NAME).read_bytes()).hexdigest()
    if fo.dataset_exists(name):
        existing = fo.load_dataset(name)
        if not overwrite and existing.info.get("manifest_sha256") == digest and predictor is None:
            return existing
        existing.delete()
    media = Path(media_dir) / name
    ds = fo.Dataset(name, persistent=True)
    samples = (_sample(rec, manifest.set_name, media, predictor) for rec in iter_records(root))
    work = ledger_work_dir(root) if manifest.ledger else None  # a curated set: its ledger says what is not in it
    ds.add_samples(itertools.chain(samples, _failure_samples(root, media), ledger_samples(work, media) if work else ()),
                   num_samples=manifest.num_records + manifest.num_failures,
                   progress=False)  # streamed in batches, never the whole set in memory

    ds.default_skeleton = fo.KeypointSkeleton(labels=list(KEYPOINT_NAMES), edges=[list(e) for e in SKELETON])
    ds.skeletons = {"keypoints": ds.default_skeleton}
    ds.mask_targets = {"area_mask": AREA_TARGETS, PREDICTION_FIELD: AREA_TARGETS, "shoe_mask": SHOE_TARGETS}
    ds.app_config.color_scheme = _color_scheme()
    # FiftyOne leaves segmentations unticked by default; open with every label field of this set shown
    ds.app_config.active_fields = fo.ActiveFields(paths=[f for f in LABEL_FIELDS if ds.has_field(f)])
    ds.compute_metadata(progress=False)
    ds.info = {"set_root": str(root.resolve()), "set_name": manifest.set_name,
               "num_records": manifest.num_records, "failures_by_reason": manifest.failures_by_reason,
               "set_provenance": manifest.provenance}
    ds.save()
    reasons = ds.match_tags("dropped").distinct("drop_reason") if ds.has_field("drop_reason") else []
    for reason in reasons:
        ds.save_view(f"dropped-{_slug(reason)}", ds.match(F("drop_reason") == reason), overwrite=True)
    if ds.has_field("split"):
        for split in ds.distinct("split"):
            ds.save_view(f"split-{_slug(split)}", ds.match(F("split") == split), overwrite=True)
    if work is not None:
        add_quality(ds, work)
        save_views(ds)
    if ds.has_field("wd_miou"):
        ds.save_view("worst-wd", ds.exists("wd_miou").sort_by("wd_miou").limit(WORST_WD), overwrite=True)
    ds.info["manifest_sha256"] = digest  # last: an interrupted load is rebuilt next time, not reused
    ds.save()
    return ds


def _sample(rec: dict[str, Any], set_name: str, media: Path, predictor: Callable | None) -> Any:
    fo = import_fiftyone()

    stem = id_file_name(rec["id"])
    path = _write_media(rec["image"], media / "images" / stem)
    sample = fo.Sample(filepath=str(path.resolve()), tags=[rec["split"]])
    sample["record_id"], sample["source_uri"], sample["content_hash"] = rec["id"], rec["source_uri"], rec["content_hash"]
    sample["split"], sample["caption"], sample["set"] = rec["split"], rec.get("caption"), set_name
    sample["provenance"] = json.loads(rec["provenance"])
    sample["shoe_image_path"] = str(_write_media(rec["shoe_image"], media / "shoe_images" / stem).resolve())
    if set_name == "shoe_leg":
        sample["keypoints"] = _keypoints(rec)
        sample["shoe_mask"] = fo.Segmentation(mask_path=str(_write_media(rec["shoe_mask"], media / "shoe_masks" / stem).resolve()))
    else:
        mask_path = _write_media(rec["area_mask"], media / "area_masks" / stem)
        sample["area_mask"] = fo.Segmentation(mask_path=str(mask_path.resolve()))
        if rec.get("annotation"):
            ann = json.loads(rec["annotation"])
            sample["annotation"] = ann
            sample["annotation_round"] = ann.get("round")
            sample["annotators"] = ann.get("annotators")
            sample["agreement_miou"] = ann.get("agreement_miou")
        if predictor is not None:
            from shoemodel.annotation.predictor import predict, record_input

            pred, _ = predict(predictor, *record_input(predictor, rec))
            truth = decode_image(rec["area_mask"], "L", "area_mask")
            sample[PREDICTION_FIELD] = fo.Segmentation(mask_path=str(_write_media(
                encode_png(pred), media / "wd_predictions" / stem).resolve()))
            sample["wd_miou"] = mean_iou(pred, truth)
            sample["wd_pixel_accuracy"] = float((pred == truth).mean())
            sample["wd_wearable_iou"] = _iou(pred == WEARABLE, truth == WEARABLE)
    return sample


def _iou(a: np.ndarray, b: np.ndarray) -> float | None:
    """IoU of two boolean masks; None when both are empty (the class is absent, nothing to score)."""
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else None


def _failure_samples(root: Path, media: Path) -> Iterator[Any]:
    """Dropped/failed items as tagged samples: the item's own image when it is a file, else a placeholder."""
    fo = import_fiftyone()

    placeholder = None
    for f in iter_failures(root):
        item = Path(f.item)
        if item.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and item.exists():
            path = item.resolve()
        else:
            if placeholder is None:
                placeholder = (media / "placeholder.png").resolve()
                placeholder.parent.mkdir(parents=True, exist_ok=True)
                placeholder.write_bytes(encode_png(np.full((64, 64, 3), 96, np.uint8)))
            path = placeholder
        s = fo.Sample(filepath=str(path), tags=["dropped", f.kind])
        s["drop_item"], s["drop_kind"], s["drop_reason"] = f.item, f.kind, f"{f.kind}: {f.reason.split(':')[0]}"
        s["drop_detail"] = f.reason
        yield s


def launch(name: str, address: str = "127.0.0.1", port: int = 5151, remote: bool = True) -> None:
    """Serve the App for dataset `name` and block until interrupted (remote: no browser is opened)."""
    from shoemodel import quiet

    fo = import_fiftyone()
    with quiet.divert_prints("Could not connect session"):  # its client's retries while the App server starts
        session = fo.launch_app(fo.load_dataset(name), address=address, port=port, remote=remote, auto=False)
        session.wait(-1)
