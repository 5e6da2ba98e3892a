"""mmpose adapter (optional): any mmpose whole-body top-down model (ViTPose+, RTMW, DWPose) by config + checkpoint.

Not installed by default: mmpose needs mmcv 2.1 compiled from source (about 12 minutes on 2 cores)
plus chumpy, xtcocotools and mmdet; see docs/curation.md for the exact steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.models.weights import require_weights

INSTALL = ("mmpose is not installed. It is an optional extra: pip install 'setuptools<81' openmim; "
           "pip install --no-build-isolation mmcv==2.1.0 (a ~12-minute compile); pip install mmpose==1.3.2 mmdet==3.3.0 "
           "mmpretrain; see docs/curation.md.")


class MMPoseWholeBody:
    """Top-down inference through mmpose.apis with a 133-keypoint COCO-WholeBody model."""

    name = "mmpose"

    def __init__(self, config: str | Path, weights: str | Path, device: str = "cpu"):
        from shoemodel.compat.torchvision import ensure_torchvision

        ensure_torchvision()  # mmcv/mmpose import torchvision
        try:
            import mmpose
            from mmpose.apis import init_model
        except ImportError as exc:
            raise ImportError(INSTALL) from exc
        cfg = require_weights(config, "mmpose model config")
        ckpt = require_weights(weights, "mmpose checkpoint")
        self.model = init_model(str(cfg), str(ckpt), device=device)
        self.version = f"{Path(ckpt).name} mmpose-{mmpose.__version__}"

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(P, 133, 3) keypoints for P boxes."""
        from mmpose.apis import inference_topdown

        if len(boxes) == 0:
            return np.zeros((0, 133, 3), np.float32)
        samples = inference_topdown(self.model, image[..., ::-1], bboxes=np.asarray(boxes)[:, :4], bbox_format="xyxy")
        out = []
        for s in samples:
            kp = s.pred_instances.keypoints[0]
            sc = s.pred_instances.keypoint_scores[0]
            out.append(np.concatenate([kp, sc[:, None]], 1))
        return np.asarray(out, np.float32)


def from_config(cfg: Any) -> MMPoseWholeBody:
    """The `mmpose` backend of curation.pose."""
    return MMPoseWholeBody(cfg.config, cfg.weights)
