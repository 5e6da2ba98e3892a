"""Table 5 metrics from a confusion matrix: per-class IoU and Acc, mIoU, mAcc, aAcc (mmseg definitions).

Acc of a class is its recall TP / (TP + FN); mAcc is the mean of those; aAcc is all correct pixels over
all pixels, so it weighs the (large) background and differs from mAcc.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """(num_classes, num_classes) counts, rows = ground truth, columns = prediction."""
    p = np.asarray(pred).reshape(-1).astype(np.int64)
    t = np.asarray(target).reshape(-1).astype(np.int64)
    if p.shape != t.shape:
        raise ValueError(f"confusion_matrix: pred has {p.size} pixels, target {t.size}")
    keep = t != ignore_index
    p, t = p[keep], t[keep]
    if p.size and (p.max() >= num_classes or t.max() >= num_classes or min(p.min(), t.min()) < 0):
        raise ValueError(f"class ids must lie in 0..{num_classes - 1}")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def segmentation_metrics(conf: np.ndarray, class_names: tuple[str, ...]) -> dict[str, float]:
    """Percentages like Table 5: `<name>/IoU`, `<name>/Acc`, `mIoU`, `mAcc`, `aAcc`.

    A class absent from both prediction and ground truth is left out of the means (NaN per class).
    """
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    gt = conf.sum(axis=1)
    pr = conf.sum(axis=0)
    union = gt + pr - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        acc = np.where(gt > 0, tp / gt, np.nan)
    out: dict[str, float] = {}
    for i, name in enumerate(class_names):
        out[f"{name}/IoU"] = float(100 * iou[i])
        out[f"{name}/Acc"] = float(100 * acc[i])
    out["mIoU"] = float(100 * np.nanmean(iou)) if np.any(~np.isnan(iou)) else float("nan")
    out["mAcc"] = float(100 * np.nanmean(acc)) if np.any(~np.isnan(acc)) else float("nan")
    out["aAcc"] = float(100 * tp.sum() / conf.sum()) if conf.sum() else float("nan")
    return out
