"""The Clothing Co-Parsing fixture photos (images/ccp): the committed train/val/test split, footwear ground truth,
and the offline-default pose of every photo (cached, so training crops come from the points inference sees).

The split is by id hash (sha256 of "ccp:<id>"), made once and committed (benchmarks/curation/ccp_split.json):
the prior trains on `train`, thresholds are chosen on `val`, numbers are reported on `test`.
CCP labels the main person only, without left/right; the footwear labels are listed in FOOTWEAR.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

#: CCP label value -> footwear type (every other label is not a shoe).
FOOTWEAR: dict[int, str] = {7: "boots", 12: "clogs", 16: "flats", 21: "heels", 28: "loafers", 32: "pumps",
                            36: "sandals", 39: "shoes", 43: "sneakers", 58: "wedges"}
#: CCP labels that touch a shoe and look like one to a small model (bare skin above pumps and sandals, tights,
#: socks, trouser hems): the shoe prior's loss can weight them up (train.shoe_prior.hard_negative_weight).
HARD_NEGATIVES: dict[int, str] = {25: "jeans", 27: "leggings", 31: "pants", 41: "skin", 44: "socks", 45: "stockings",
                                  53: "tights"}
SPLIT_FRACTIONS = (("train", 0.65), ("val", 0.15), ("test", 0.20))


def photo_ids(root: str | Path) -> list[str]:
    """The ids (NNNN) of the photos in `root`/photos that have a label map."""
    root = Path(root)
    return sorted(p.stem for p in (root / "photos").glob("*.jpg") if (root / "labels" / f"{p.stem}.png").exists())


def split_of(photo_id: str) -> str:
    """train / val / test by the id's hash: stable whatever other photos exist."""
    u = int(hashlib.sha256(f"ccp:{photo_id}".encode()).hexdigest()[:12], 16) / 16 ** 12
    acc = 0.0
    for name, frac in SPLIT_FRACTIONS:
        acc += frac
        if u < acc:
            return name
    return SPLIT_FRACTIONS[-1][0]


def make_split(ids: list[str]) -> dict[str, list[str]]:
    return {name: [i for i in ids if split_of(i) == name] for name, _ in SPLIT_FRACTIONS}


def ids_hash(ids: list[str]) -> str:
    """SHA-256 of the sorted ids joined by newlines: names the data a model card says it trained on."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def load_split(path: str | Path, name: str) -> list[str]:
    """The ids of one split from the committed split file, or of several joined by '+' ("train+val": the final
    refit once the recipe is chosen on val); one-line error naming the file when it is bad."""
    path = Path(path)
    try:
        splits = json.loads(path.read_text())["splits"]
        ids: list[str] = []
        for part in name.split("+"):
            ids += [i for i in splits[part.strip()] if i not in ids]
        return ids
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: no split '{name}' ({type(exc).__name__}: {exc})") from None


def read_photo(root: str | Path, photo_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(RGB photo, uint8 label map) of one CCP photo."""
    from PIL import Image

    root = Path(root)
    image = np.asarray(Image.open(root / "photos" / f"{photo_id}.jpg").convert("RGB"))
    labels = np.asarray(Image.open(root / "labels" / f"{photo_id}.png"))
    if labels.shape != image.shape[:2]:
        raise ValueError(f"{root}/labels/{photo_id}.png is {labels.shape[::-1]}, the photo {image.shape[1::-1]}")
    return image, labels


def footwear_mask(labels: np.ndarray) -> np.ndarray:
    return np.isin(labels, list(FOOTWEAR))


def hard_negative_mask(labels: np.ndarray) -> np.ndarray:
    return np.isin(labels, list(HARD_NEGATIVES))


def footwear_type(labels: np.ndarray) -> str | None:
    """The photo's most common footwear label (None when it has no footwear pixels)."""
    vals, counts = np.unique(labels[footwear_mask(labels)], return_counts=True)
    return FOOTWEAR[int(vals[np.argmax(counts)])] if len(vals) else None


def pose_cache(root: str | Path, ids: list[str], cache: str | Path, curation_cfg: Any = None,
               log: Any = None) -> dict[str, dict[str, Any]]:
    """id -> {status, reason, keypoints (P x 36), person_box (P x 5)} of the offline-default detect + pose,
    computed for the ids missing from the cache file (JSON) and written back whole (atomic)."""
    from shoemodel.store.atomic import write_json

    cache = Path(cache)
    data: dict[str, dict[str, Any]] = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [i for i in ids if i not in data]
    if todo:
        from shoemodel.curation.detect import build_detector, detect_rows
        from shoemodel.curation.pose import build_pose, pose_rows

        cfg = curation_cfg or default_curation_config()
        det, est = build_detector(cfg.detect), build_pose(cfg.pose)
        for n, i in enumerate(todo):
            path = Path(root) / "photos" / f"{i}.jpg"
            raw = path.read_bytes()
            r = {"source_uri": str(path), "content_hash": hashlib.sha256(raw).hexdigest(), "status": "kept",
                 "reason": None, "image": raw}
            d = detect_rows([r], det, cfg.detect)[0]
            entry: dict[str, Any] = {"status": d["status"], "reason": d.get("reason")}
            if d["status"] == "kept":
                q = pose_rows([{**r, **d}], est, cfg.pose)[0]
                entry = {"status": q["status"], "reason": q.get("reason"),
                         "keypoints": [float(v) for v in q.get("keypoints") or []],
                         "person_box": [float(v) for v in q.get("person_box") or []]}
            data[i] = entry
            if log is not None and (n + 1) % 50 == 0:
                log(f"pose cache: {n + 1}/{len(todo)}")
        write_json(cache, data)
    return data


def default_curation_config() -> Any:
    """The offline default curation config with the fixture YOLOX-Nano weights (the fixtures' own detector)."""
    import os

    from shoemodel.curation.config import CurationConfig

    fixtures = Path(os.environ.get("SHOEMODEL_FIXTURES", Path(__file__).resolve().parents[3].parent / "shared" / "fixtures"))
    cfg = CurationConfig(progress=False)
    cfg.detect.backend, cfg.detect.weights = "yolox_onnx", str(fixtures / "weights" / "yolox_nano" / "yolox_nano.onnx")
    return cfg
