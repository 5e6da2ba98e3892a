"""YOLOX (the paper's detector family) exported to ONNX, run on onnxruntime: person boxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation.backends import get
from shoemodel.curation.boxes import nms
from shoemodel.models.weights import require_weights

HINT = get("detect", "yolox_onnx").hint


class YoloxOnnxDetector:
    """YOLOX ONNX: BGR 0-255 input letterboxed with 114 (top-left), raw grid outputs decoded here."""

    name = "yolox_onnx"

    def __init__(self, weights: str | Path, input_size: int = 416, score_threshold: float = 0.5,
                 nms_threshold: float = 0.45, threads: int = 1, device: str = "auto"):
        import onnxruntime as ort

        from shoemodel.models.device import onnx_provider_options, onnx_providers

        path = require_weights(weights, "YOLOX detector", HINT)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        providers = onnx_providers(device)
        self.session = ort.InferenceSession(str(path), opts, providers=onnx_provider_options(providers, device))
        self.provider = self.session.get_providers()[0]  # the one onnxruntime actually runs on (provenance)
        self.runtime = {"device": "cpu" if self.provider == "CPUExecutionProvider" else device,
                        "provider": self.provider, "dtype": "float32"}
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        size = inp.shape[2] if isinstance(inp.shape[2], int) else input_size
        self.size = int(size)
        self.dynamic_batch = not isinstance(inp.shape[0], int)
        self.score_threshold, self.nms_threshold = score_threshold, nms_threshold
        self.version = f"{path.name} onnxruntime-{ort.__version__}"

    def _preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        import cv2

        h, w = image.shape[:2]
        r = min(self.size / h, self.size / w)
        resized = cv2.resize(image[..., ::-1], (max(1, int(w * r)), max(1, int(h * r))), interpolation=cv2.INTER_LINEAR)
        padded = np.full((self.size, self.size, 3), 114, np.uint8)
        padded[: resized.shape[0], : resized.shape[1]] = resized
        return padded.transpose(2, 0, 1).astype(np.float32), r

    def _decode(self, out: np.ndarray, ratio: float) -> np.ndarray:
        grids, strides = [], []
        for stride in (8, 16, 32):
            n = self.size // stride
            yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
            strides.append(np.full((n * n, 1), stride))
        grid, stride = np.concatenate(grids), np.concatenate(strides)
        xy = (out[:, :2] + grid) * stride
        wh = np.exp(np.clip(out[:, 2:4], -20, 20)) * stride
        score = out[:, 4] * out[:, 5]  # objectness x person class
        m = score >= self.score_threshold
        if not m.any():
            return np.zeros((0, 5), np.float32)
        boxes = np.concatenate([xy[m] - wh[m] / 2, xy[m] + wh[m] / 2], 1) / ratio
        keep = nms(boxes, score[m], self.nms_threshold)
        return np.concatenate([boxes[keep], score[m][keep, None]], 1).astype(np.float32)

    def detect(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per RGB image: (N, 5) person boxes x1, y1, x2, y2, score, and no keypoints."""
        prepped = [self._preprocess(im) for im in images]
        if self.dynamic_batch and prepped:
            outs = self.session.run(None, {self.input_name: np.stack([p for p, _ in prepped])})[0]
        else:
            outs = [self.session.run(None, {self.input_name: p[None]})[0][0] for p, _ in prepped]
        results = []
        for out, (_, r), im in zip(outs, prepped, images):
            det = self._decode(np.asarray(out, np.float32), r)
            h, w = im.shape[:2]
            det[:, [0, 2]] = det[:, [0, 2]].clip(0, w)
            det[:, [1, 3]] = det[:, [1, 3]].clip(0, h)
            results.append((det, None))
        return results


def from_config(cfg: Any) -> YoloxOnnxDetector:
    """The `yolox_onnx` backend of curation.detect."""
    return YoloxOnnxDetector(cfg.weights, cfg.input_size, cfg.score_threshold, cfg.nms_threshold, device=cfg.device)
