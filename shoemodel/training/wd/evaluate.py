"""Evaluate WD exactly as Table 5: per-class IoU/Acc, mIoU, mAcc, aAcc on the held-out split."""

from __future__ import annotations

from typing import Any

import numpy as np

from shoemodel.models.wd.model import class_names
from shoemodel.models.wd.predictor import WDPredictor
from shoemodel.schemas.classes import NUM_CLASSES, VISIBLE, to_two_class
from shoemodel.schemas.records import decode_image
from shoemodel.training.data import load_split
from shoemodel.training.metrics.segmentation import confusion_matrix, segmentation_metrics


def evaluate_predictor(predictor: WDPredictor, set_root: str, split: str = "test", batch_size: int = 8,
                       max_records: int = 0) -> dict[str, float]:
    """Confusion matrix over all pixels of `split` at each image's own resolution, then Table 5 metrics."""
    column = "image" if getattr(predictor, "reads", "shoe_on_black") == "photo" else "shoe_image"  # what it was trained on
    table = load_split(set_root, [column, "area_mask"], split, max_records)
    n_cls = 2 if predictor.two_class else NUM_CLASSES
    conf = np.zeros((n_cls, n_cls), np.int64)
    for start in range(0, table.num_rows, batch_size):
        chunk = table.slice(start, batch_size)
        imgs = [decode_image(b, "RGB", column) for b in chunk.column(column).to_pylist()]
        gts = [decode_image(b, "L", "area_mask") for b in chunk.column("area_mask").to_pylist()]
        if column == "image":  # a photo is framed by the shoe's box (here the true one; generate uses the
            # background remover's, measured by benchmarks/training/wd_photos.py); WD decides every pixel
            preds = [p.argmax(0).astype(np.uint8) for p in predictor.predict_scores(imgs, [g > 0 for g in gts])]
        else:
            preds = predictor.predict_raw(imgs)
        for pred, gt in zip(preds, gts, strict=True):
            conf += confusion_matrix(pred, to_two_class(gt) if predictor.two_class else gt, n_cls)
    out = segmentation_metrics(conf, class_names(predictor.two_class))
    out["num_images"] = float(table.num_rows)
    return out


def foreground_baseline(set_root: str, split: str = "test", two_class: bool = False) -> dict[str, float]:
    """A rule with no learning: every non-black X_m pixel is 'visible' (so the wearable IoU is 0)."""
    table = load_split(set_root, ["shoe_image", "area_mask"], split)
    n_cls = 2 if two_class else NUM_CLASSES
    conf = np.zeros((n_cls, n_cls), np.int64)
    for sb, mb in zip(table.column("shoe_image").to_pylist(), table.column("area_mask").to_pylist(), strict=True):
        img, gt = decode_image(sb, "RGB"), decode_image(mb, "L")
        pred = np.where(img.max(-1) > 0, 0 if two_class else VISIBLE, 0)
        conf += confusion_matrix(pred, to_two_class(gt) if two_class else gt, n_cls)
    return segmentation_metrics(conf, class_names(two_class))


def evaluate_wd(checkpoint: str, set_root: str, *, split: str = "test", model_size: str = "tiny",
                image_size: int = 64, two_class: bool = False, seed: int = 0) -> dict[str, Any]:
    """Trained model, the same architecture untrained, and the foreground rule, side by side."""
    model = WDPredictor.from_checkpoint(checkpoint)
    trained = evaluate_predictor(model, set_root, split)
    random_wd = WDPredictor.from_config_random(model_size, image_size, two_class, seed)
    random_wd.reads = model.reads  # the same input as the trained one
    untrained = evaluate_predictor(random_wd, set_root, split)
    return {"trained": trained, "untrained": untrained, "foreground_rule": foreground_baseline(set_root, split, two_class)}
