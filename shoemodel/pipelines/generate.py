"""End-to-end ShoeModel inference (paper Fig. 2): shoe photo + prompt → n shoe-wearing images.

photo → foreground mask → WD (3 classes) → layout on the canvas → X_w → LpS phase 1 (8 foot points)
→ LpS phase 2 (n leg poses) → X_p → SW (DDIM, CFG) → paste X_w back. Every model is injected, so tests
and other front-ends can swap parts; `run_generate.build_pipeline` builds the real ones from checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from shoemodel.pipelines.layout import ShoeLayout, place
from shoemodel.pipelines.paste import paste_back
from shoemodel.schemas.classes import BACKGROUND, VISIBLE, wearable_shoe_image


class AreaPredictor(Protocol):
    def predict(self, rgb: np.ndarray) -> np.ndarray: ...  # (H, W) class ids 0/1/2


class FootPredictor(Protocol):
    def predict(self, rgb: np.ndarray) -> np.ndarray: ...  # (8, 3) foot keypoints in rgb's pixels


class LegSampler(Protocol):
    def sample(self, foot8: np.ndarray, image_size: Any, n: int, seed: int) -> np.ndarray: ...  # (n, 12, 3)


class ImageGenerator(Protocol):
    resolution: int

    def generate(self, x_w: np.ndarray, poses: list[np.ndarray], prompt: str, *, negative_prompt: str | None = ...,
                 steps: int = ..., guidance: float = ..., seed: int = ...) -> list[np.ndarray]: ...


@dataclass
class GenerateOptions:
    """Sampling knobs; defaults are the paper's (DDIM, CFG 7.0)."""

    n: int = 4
    seed: int = 0
    steps: int = 50
    guidance: float = 7.0
    negative_prompt: str | None = None
    layout: ShoeLayout = field(default_factory=ShoeLayout)
    resolution: int | None = None  # canvas side; default: the SW model's training resolution


@dataclass
class GenerateResult:
    """Everything one run made: final images (pasted), raw SW outputs, and the intermediate conditions."""

    images: list[np.ndarray]
    raw: list[np.ndarray]
    x_w: np.ndarray
    visible: np.ndarray  # (H, W) bool: where X_w is pasted
    canvas: np.ndarray  # the placed shoe photo
    classes: np.ndarray  # (H, W) WD classes on the canvas
    foot8: np.ndarray
    keypoints: np.ndarray  # (n, 12, 3)
    poses: list[np.ndarray]  # X_p images


class ShoeModelPipeline:
    """WD → LpS (phase 1, phase 2) → SW → paste-back, with the parts injected."""

    def __init__(self, sw: ImageGenerator, wd: AreaPredictor | None, foot: FootPredictor, legs: LegSampler,
                 render_pose: Any = None):
        if render_pose is None:
            from shoemodel.models.pose_render import render_pose
        self.sw, self.wd, self.foot, self.legs, self.render_pose = sw, wd, foot, legs, render_pose

    def conditions(self, shoe_rgb: np.ndarray, foreground: np.ndarray | None = None, classes: np.ndarray | None = None,
                   options: GenerateOptions | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Canvas photo, canvas classes, X_w and the visible mask for a shoe photo (the shoe-side half of the pipeline)."""
        opts = options or GenerateOptions()
        if foreground is None:
            from shoemodel.pipelines.foreground import remove_studio_background

            foreground = remove_studio_background(shoe_rgb)
        if classes is None:
            if self.wd is None:
                raise ValueError("no WD model and no class mask given")
            x_m = np.where(foreground[..., None], shoe_rgb, 0).astype(np.uint8)  # WD reads the shoe on black
            classes = np.asarray(self.wd.predict(x_m))
        classes = np.asarray(classes, dtype=np.uint8).copy()
        classes[~foreground] = BACKGROUND
        side = opts.resolution or self.sw.resolution
        canvas, placed = place(shoe_rgb, classes, (side, side), opts.layout)
        x_w = wearable_shoe_image(canvas, placed)
        return canvas, placed, x_w, placed == VISIBLE

    def __call__(self, shoe_rgb: np.ndarray, prompt: str, foreground: np.ndarray | None = None,
                 classes: np.ndarray | None = None, options: GenerateOptions | None = None) -> GenerateResult:
        """Run the whole pipeline on one shoe photo (H, W, 3 uint8)."""
        opts = options or GenerateOptions()
        canvas, placed, x_w, visible = self.conditions(shoe_rgb, foreground, classes, opts)
        if not visible.any():
            raise ValueError("no visible shoe area on the canvas (empty mask, or the layout moved the shoe off-canvas)")
        h, w = x_w.shape[:2]
        foot8 = np.asarray(self.foot.predict(x_w), dtype=np.float32)
        keypoints = np.asarray(self.legs.sample(foot8, (w, h), opts.n, opts.seed), dtype=np.float32)
        poses = [self.render_pose(k, (w, h)) for k in keypoints]
        raw = self.sw.generate(x_w, poses, prompt, negative_prompt=opts.negative_prompt, steps=opts.steps,
                               guidance=opts.guidance, seed=opts.seed)
        images = [paste_back(img, x_w, visible) for img in raw]
        return GenerateResult(images, raw, x_w, visible, canvas, placed, foot8, keypoints, poses)
