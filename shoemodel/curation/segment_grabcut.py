"""Keypoint-seeded GrabCut (opencv): the labelled non-SAM fallback when no SAM weights are available.

It needs no weights, so `dvc repro` works on a fresh clone; masks are rougher than SAM's, and every
record it makes says `mask_source: grabcut` in its provenance so a real build can filter them out.
"""

from __future__ import annotations

import numpy as np

from shoemodel.curation.prompts import FootPrompt


class GrabCutSegmenter:
    """GrabCut inside the foot box, with foreground seeds on the foot points and background on the calf."""

    name = "grabcut"

    def __init__(self, iterations: int = 3):
        import cv2

        self.iterations = iterations
        self.version = f"opencv-{cv2.__version__}"

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]:
        import cv2

        h, w = image.shape[:2]
        masks = []
        for p in prompts:
            x1, y1, x2, y2 = (int(round(v)) for v in p.box)
            x2, y2 = max(x2, x1 + 2), max(y2, y1 + 2)
            crop = np.ascontiguousarray(image[y1:y2, x1:x2, ::-1])
            m = np.full(crop.shape[:2], cv2.GC_PR_BGD, np.uint8)
            r = max(2, int(0.06 * max(crop.shape[:2])))
            for (px, py), lab in zip(p.points, p.labels):
                cv2.circle(m, (int(px) - x1, int(py) - y1), r, int(cv2.GC_FGD if lab == 1 else cv2.GC_BGD), -1)
            full = np.zeros((h, w), bool)
            if (m == cv2.GC_FGD).any() and crop.shape[0] > 4 and crop.shape[1] > 4:
                bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
                cv2.setRNGSeed(0)  # GrabCut's k-means init draws from a per-thread RNG: seed it so reruns match
                try:
                    cv2.grabCut(crop, m, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
                except cv2.error:
                    pass  # degenerate crop (one colour): keep the seeds only
                full[y1:y2, x1:x2] = (m == cv2.GC_FGD) | (m == cv2.GC_PR_FGD)
            masks.append(full)
        return masks
