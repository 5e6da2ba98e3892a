"""Person masks from MediaPipe (mediapipe==0.10.21 ships the models in its wheel): where the person is, offline.

The shoe masker needs to know which pixels belong to the person (shoe, sock, trousers) and which are floor:
the segmenter alone cannot tell a dark shoe from a dark floor. Two models are in the wheel: `selfie` (the
selfie segmenter, general 256 x 256 model) and `pose` (BlazePose's own segmentation output). Both run on the
padded crop of the person box, so a small person far from the camera is seen at the model's resolution.
"""

from __future__ import annotations

import threading

import numpy as np

from shoemodel.curation.boxes import pad_box

PERSON_MASK_MODELS = ("selfie", "pose", "none")


class PersonMasker:
    """Per-pixel person probability (H, W) float32 inside a padded person box, 0 outside it."""

    def __init__(self, model: str = "selfie", box_padding: float = 0.25):
        if model not in PERSON_MASK_MODELS[:2]:
            raise ValueError(f"curation.segment.person_mask '{model}' unknown; use {', '.join(PERSON_MASK_MODELS)}")
        from shoemodel.compat.mediapipe import import_mediapipe

        mp = import_mediapipe()

        self.model = model
        if model == "selfie":
            self._net = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        else:
            self._net = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True,
                                               min_detection_confidence=0.3)
        self._lock = threading.Lock()  # a graph runs one image at a time
        self.box_padding = box_padding
        self.version = f"{model} mediapipe-{mp.__version__}"

    def probability(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Person probability in image pixels for the person in `box` (x1, y1, x2, y2)."""
        h, w = image.shape[:2]
        out = np.zeros((h, w), np.float32)
        x1, y1, x2, y2 = pad_box(np.asarray(box, np.float32), self.box_padding, w, h).astype(int)
        crop = np.ascontiguousarray(image[y1:y2, x1:x2])
        if crop.shape[0] < 8 or crop.shape[1] < 8:
            return out
        with self._lock:
            res = self._net.process(crop)
        if res.segmentation_mask is not None:
            out[y1:y2, x1:x2] = np.clip(res.segmentation_mask, 0, 1)
        return out
