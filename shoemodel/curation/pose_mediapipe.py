"""MediaPipe BlazePose (mediapipe==0.10.21 ships the weights in its wheel): offline whole-body-ish pose.

BlazePose has 33 landmarks. Mapped into COCO-WholeBody order they give 17 body points and, of the
6 foot points, the big toes (BlazePose "foot index" = toe tip) and heels. The small toes (WB 18,
21) have no BlazePose counterpart and stay missing (0, 0, 0). Scores are BlazePose visibilities.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from shoemodel.curation.boxes import pad_box

#: COCO-WholeBody index -> BlazePose landmark index (body 0-16 and foot 17-22).
WHOLEBODY_FROM_BLAZEPOSE: dict[int, int] = {
    0: 0, 1: 2, 2: 5, 3: 7, 4: 8, 5: 11, 6: 12, 7: 13, 8: 14, 9: 15, 10: 16,
    11: 23, 12: 24, 13: 25, 14: 26, 15: 27, 16: 28,
    17: 31, 19: 29,  # left big toe <- left foot index, left heel <- left heel
    20: 32, 22: 30,  # right big toe <- right foot index, right heel <- right heel
}  # BlazePose has no small toe: COCO-WholeBody 18 and 21 stay missing


def blazepose_to_wholebody(landmarks: np.ndarray) -> np.ndarray:
    """(33, 3) x, y, visibility in pixels -> (133, 3) COCO-WholeBody array, unmapped points 0."""
    wb = np.zeros((133, 3), np.float32)
    for w, b in WHOLEBODY_FROM_BLAZEPOSE.items():
        wb[w] = landmarks[b]
    return wb


class MediaPipePose:
    """BlazePose on a padded crop of each person box (static images, one person per crop)."""

    name = "mediapipe"

    def __init__(self, model_complexity: int = 1, box_padding: float = 0.25):
        from shoemodel.compat.mediapipe import import_mediapipe

        mp = import_mediapipe()

        self._pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=model_complexity,
                                            enable_segmentation=False, min_detection_confidence=0.3)
        self._lock = threading.Lock()  # a graph runs one image at a time
        self.box_padding = box_padding
        self.version = f"blazepose-c{model_complexity} mediapipe-{mp.__version__}"

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(P, 133, 3) whole-body keypoints in image pixels for P person boxes (all 0 where none found)."""
        h, w = image.shape[:2]
        out = np.zeros((len(boxes), 133, 3), np.float32)
        for i, box in enumerate(boxes):
            x1, y1, x2, y2 = pad_box(box, self.box_padding, w, h).astype(int)
            crop = np.ascontiguousarray(image[y1:y2, x1:x2])
            if crop.shape[0] < 8 or crop.shape[1] < 8:
                continue
            with self._lock:
                res = self._pose.process(crop)
            if res.pose_landmarks is None:
                continue
            lm = np.array([[p.x * crop.shape[1] + x1, p.y * crop.shape[0] + y1, p.visibility]
                           for p in res.pose_landmarks.landmark], np.float32)
            out[i] = blazepose_to_wholebody(lm)
        return out


def from_config(cfg: Any) -> MediaPipePose:
    """The `mediapipe` backend of curation.pose."""
    return MediaPipePose(cfg.model_complexity, cfg.box_padding)
