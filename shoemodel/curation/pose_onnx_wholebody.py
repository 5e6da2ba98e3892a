"""RTMW / DWPose whole-body pose from their published ONNX files, on onnxruntime (no mmcv, no mmpose).

The file says everything we need: its input `[N, 3, H, W]` gives the crop size (288x384 for RTMW-x /
RTMW-l 384x288, 192x256 for DWPose / RTMW 256x192), its two outputs `simcc_x` `[N, K, W*r]` and
`simcc_y` `[N, K, H*r]` the split ratio r; K must be 133 (COCO-WholeBody): a body-with-feet file such as
rtmlib's Halpe-26 RTMPose has the same signature with K = 26, and its points 17-22 are head, neck, hips and
toes, not COCO-WholeBody's feet, so any other K is refused when the file is loaded. Each person box is cropped by one
affine warp, all crops of all images in a call go through the session in batches (one at a time when the
file has a fixed batch of 1), and SimCC decoding maps them back to image pixels (`shoemodel.curation.simcc`).

Our own small decoder rather than rtmlib: rtmlib runs the session once per box, fixes the split ratio at 2
and the input size in code instead of reading the file, downloads a checkpoint when a path is missing,
and pins opencv-contrib; the decoding itself is thirty lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation import simcc
from shoemodel.curation.backends import get
from shoemodel.models.onnx_session import make_session
from shoemodel.models.weights import require_weights

HINT = get("pose", "onnx_wholebody").hint
WHAT = "whole-body pose ONNX (RTMW / DWPose)"
MAX_BATCH = 64  # crops per session call when the file takes any batch size
WHOLEBODY_KEYPOINTS = 133  # COCO-WholeBody: the only layout the 133 -> 12 shoe-leg map reads


class OnnxWholeBodyPose:
    """Top-down whole-body pose on person boxes from an RTMW / DWPose ONNX file."""

    name = "onnx_wholebody"

    def __init__(self, weights: str | Path, box_padding: float = 0.25, device: str = "auto", threads: int = 1):
        import onnxruntime as ort

        from shoemodel.models.device import onnx_providers

        path = require_weights(weights, WHAT, HINT)
        onnx_providers(device)  # cuda:N without a CUDA provider: its own one-line error, not "not loadable"
        try:
            self.session, self.provider = make_session(path, device, threads)
            self.runtime = {"device": "cpu" if self.provider == "CPUExecutionProvider" else device,
                            "provider": self.provider, "dtype": "float32"}
        except Exception as exc:  # onnxruntime's own errors are long C++ messages
            raise ValueError(f"curation.pose.weights '{path}' is not a loadable ONNX model: {str(exc).splitlines()[0]}") from exc
        inp = self.session.get_inputs()[0]
        if len(inp.shape) != 4 or not all(isinstance(d, int) for d in inp.shape[1:]):
            raise ValueError(f"'{path.name}': expected an input [N, 3, H, W] with a fixed H, W; got {inp.name} {inp.shape}")
        self.input_name = inp.name
        self.input_wh = (int(inp.shape[3]), int(inp.shape[2]))
        self.fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        outs = {o.name: o for o in self.session.get_outputs()}
        names = ["simcc_x", "simcc_y"] if {"simcc_x", "simcc_y"} <= set(outs) else list(outs)[:2]
        if len(names) != 2:
            raise ValueError(f"'{path.name}': expected two SimCC outputs (simcc_x, simcc_y); got {list(outs)}")
        self.output_names = names
        self._check_keypoints(path)
        self.padding = 1.0 + box_padding
        self.weights_name = path.name
        self.version = f"{path.name} onnxruntime-{ort.__version__} {self.provider}"

    def _check_keypoints(self, path: Path) -> None:
        """Refuse a model whose keypoint count is not 133, counted on one blank crop (the declared output shape
        may leave K open, and only a run says what the file really gives)."""
        w, h = self.input_wh
        k = int(self._run(np.zeros((1, 3, h, w), np.float32))[0].shape[1])
        if k != WHOLEBODY_KEYPOINTS:
            raise ValueError(f"curation.pose.weights '{path}' predicts {k} keypoints, not COCO-WholeBody's "
                             f"{WHOLEBODY_KEYPOINTS}: onnx_wholebody needs an RTMW / DWPose whole-body file (a 26-point "
                             "file is Halpe-26 body-with-feet, whose points 17-22 are not the feet)")

    def _run(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SimCC vectors for a stack of crops, in chunks the file accepts."""
        step = self.fixed_batch or MAX_BATCH
        xs, ys = [], []
        for start in range(0, len(crops), step):
            chunk = crops[start: start + step]
            pad = (self.fixed_batch - len(chunk)) if self.fixed_batch else 0
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
            sx, sy = self.session.run(self.output_names, {self.input_name: chunk})
            xs.append(sx[: len(chunk) - pad])
            ys.append(sy[: len(chunk) - pad])
        return np.concatenate(xs), np.concatenate(ys)

    def estimate_batch(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> list[np.ndarray]:
        """Per image: (P, K, 3) keypoints x, y, score in image pixels for its P boxes."""
        crops, meta = [], []
        for i, (image, bx) in enumerate(zip(images, boxes)):
            for b in np.asarray(bx, np.float32):
                x, c, s = simcc.crop_person(image, b, self.input_wh, self.padding)
                crops.append(x)
                meta.append((i, c, s))
        out: list[list[np.ndarray]] = [[] for _ in images]
        if not crops:
            return [np.zeros((0, WHOLEBODY_KEYPOINTS, 3), np.float32) for _ in images]
        sx, sy = self._run(np.stack(crops))
        locs, scores = simcc.decode_simcc(sx, sy, simcc.split_ratio(sx.shape[-1], self.input_wh[0]),
                                          simcc.split_ratio(sy.shape[-1], self.input_wh[1]))
        for (i, c, s), loc, sc in zip(meta, locs, scores):
            out[i].append(np.concatenate([simcc.to_image(loc, c, s, self.input_wh), sc[:, None]], 1))
        k = locs.shape[1]
        return [np.stack(o) if o else np.zeros((0, k, 3), np.float32) for o in out]

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        return self.estimate_batch([image], [boxes])[0]


def from_config(cfg: Any) -> OnnxWholeBodyPose:
    """The `onnx_wholebody` backend of curation.pose."""
    return OnnxWholeBodyPose(cfg.weights, cfg.box_padding, device=cfg.device)
