"""Top-down crops and SimCC decoding for RTMPose-family whole-body models (RTMW, DWPose), in numpy.

A person box becomes a fixed-size crop by one affine warp (centre + scale, aspect ratio fixed to the model
input, the box grown by `padding` as mmpose's `bbox_xyxy2cs` does); the model answers with two 1-D
classification vectors per keypoint (SimCC: `simcc_x` of length W * r, `simcc_y` of length H * r, where r
is the split ratio); the argmax of each gives the location in input pixels times r, and the smaller of the
two maxima is the score. The inverse of the crop's affine maps it back to the image.
"""

from __future__ import annotations

import numpy as np

#: ImageNet mean / std on RGB 0-255: the normalisation RTMPose, RTMW and DWPose were trained with.
MEAN_RGB = np.array([123.675, 116.28, 103.53], np.float32)
STD_RGB = np.array([58.395, 57.12, 57.375], np.float32)


def box_center_scale(box: np.ndarray, input_wh: tuple[int, int], padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """(centre (2,), scale (w, h)) of an x1y1x2y2 box, grown by `padding` and widened to the input's aspect ratio."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float32)
    w, h = max(x2 - x1, 1.0) * padding, max(y2 - y1, 1.0) * padding
    aspect = input_wh[0] / input_wh[1]
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    return center, np.array([w, h], np.float32)


def crop_matrix(center: np.ndarray, scale: np.ndarray, input_wh: tuple[int, int]) -> np.ndarray:
    """2x3 affine taking image pixels to crop pixels (no rotation; scale already has the input's aspect)."""
    s = input_wh[0] / float(scale[0])
    return np.array([[s, 0, input_wh[0] / 2 - s * center[0]], [0, s, input_wh[1] / 2 - s * center[1]]], np.float32)


def crop_person(image: np.ndarray, box: np.ndarray, input_wh: tuple[int, int], padding: float = 1.25
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The normalised (3, H, W) float32 crop of an RGB uint8 image around `box`, with its centre and scale."""
    import cv2

    center, scale = box_center_scale(box, input_wh, padding)
    crop = cv2.warpAffine(image, crop_matrix(center, scale, input_wh), input_wh, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    x = (crop.astype(np.float32) - MEAN_RGB) / STD_RGB
    return np.ascontiguousarray(x.transpose(2, 0, 1)), center, scale


def split_ratio(simcc_len: int, input_len: int) -> float:
    """SimCC bins per input pixel (2.0 for every published RTMPose / RTMW / DWPose)."""
    if input_len <= 0 or simcc_len <= 0:
        raise ValueError(f"SimCC length {simcc_len} / input length {input_len} must be positive")
    return simcc_len / input_len


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, ratio_x: float, ratio_y: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, Wr), (N, K, Hr) -> locations (N, K, 2) in crop pixels and scores (N, K).

    Score is min(max_x, max_y) (a point is only as sure as its weaker axis); a point whose score is not
    positive keeps its argmax location but scores 0.
    """
    ratio_y = ratio_x if ratio_y is None else ratio_y
    sx, sy = np.asarray(simcc_x, np.float32), np.asarray(simcc_y, np.float32)
    if sx.ndim != 3 or sy.ndim != 3 or sx.shape[:2] != sy.shape[:2]:
        raise ValueError(f"SimCC outputs must be (N, K, L) with the same N, K; got {sx.shape} and {sy.shape}")
    locs = np.stack([sx.argmax(-1) / ratio_x, sy.argmax(-1) / ratio_y], -1).astype(np.float32)
    scores = np.minimum(sx.max(-1), sy.max(-1))
    return locs, np.where(scores > 0, scores, 0).astype(np.float32)


def to_image(locs: np.ndarray, center: np.ndarray, scale: np.ndarray, input_wh: tuple[int, int]) -> np.ndarray:
    """Crop-pixel locations (K, 2) -> image pixels, the inverse of `crop_matrix`."""
    return (locs / np.asarray(input_wh, np.float32) * scale + center - scale / 2).astype(np.float32)
