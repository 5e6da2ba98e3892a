"""End-to-end ShoeModel inference (paper Fig. 2): shoe photo + prompt → n shoe-wearing images.

photo → WD on the photo as given (3 classes; the foreground step only without WD) → layout on the output
canvas (the photo's own size unless asked otherwise) → X_w → resized to SW's resolution → LpS phase 1
(8 foot points) → LpS phase 2 (n leg poses) → X_p → SW (DDIM, CFG) → SW's images resized to the output
canvas → the photo's own visible pixels pasted back. Every model is injected, so tests and other
front-ends can swap parts; `run_generate.build_pipeline` builds the real ones from checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image

from shoemodel.pipelines.confidence import foot_confidence, wd_confidence
from shoemodel.pipelines.layout import ShoeLayout, place, place_classes, place_image
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


class NoShoeError(ValueError):
    """The photo holds no usable shoe area (a user error: the message says what was found)."""


@dataclass
class GenerateOptions:
    """Sampling knobs; defaults are the paper's (DDIM, CFG 7.0)."""

    n: int = 4
    seed: int = 0
    steps: int = 50
    guidance: float = 7.0
    negative_prompt: str | None = None
    layout: ShoeLayout = field(default_factory=ShoeLayout)
    size: tuple[int, int] | None = None  # output canvas (w, h); default: the photo's own size
    resolution: int | None = None  # a square canvas of this side instead (the benchmark's, at SW's size)


@dataclass
class GenerateResult:
    """Everything one run made. Final images, raw, x_w, visible, canvas and classes are at the output size;
    x_w_sw, foot8, keypoints and poses at SW's size (`sw_size`)."""

    images: list[np.ndarray]
    raw: list[np.ndarray]  # SW's images resized to the output canvas, before paste-back
    x_w: np.ndarray
    visible: np.ndarray  # (H, W) bool: where the photo's pixels are pasted
    canvas: np.ndarray  # the placed shoe photo (its own pixels when `exact`)
    classes: np.ndarray  # (H, W) classes on the canvas
    foot8: np.ndarray
    keypoints: np.ndarray  # (n, 12, 3)
    poses: list[np.ndarray]  # X_p images
    x_w_sw: np.ndarray | None = None
    sw_size: tuple[int, int] | None = None
    exact: bool = False  # the canvas pixels are the photo's own (copied, not resampled)
    confidence: dict[str, Any] = field(default_factory=dict)


def sw_canvas_size(size: tuple[int, int], resolution: int, multiple: int = 8) -> tuple[int, int]:
    """SW's working size for an output canvas: long side = SW's resolution, the short side by the canvas's
    aspect, both multiples of 8 (the latent grid)."""
    w, h = size
    long = max(multiple, resolution // multiple * multiple)
    short = max(multiple, int(round(long * min(w, h) / max(w, h) / multiple)) * multiple)
    return (long, short) if w >= h else (short, long)


def resize_rgb(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (w, h) with an antialiasing filter (Lanczos) both ways."""
    if img.shape[1] == size[0] and img.shape[0] == size[1]:
        return img
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize(size, Image.LANCZOS))


def resize_classes(classes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a class mask to size=(w, h), nearest."""
    if classes.shape[1] == size[0] and classes.shape[0] == size[1]:
        return classes
    return np.asarray(Image.fromarray(np.ascontiguousarray(classes.astype(np.uint8))).resize(size, Image.NEAREST))


class ShoeModelPipeline:
    """WD → LpS (phase 1, phase 2) → SW → paste-back, with the parts injected."""

    def __init__(self, sw: ImageGenerator, wd: AreaPredictor | None, foot: FootPredictor, legs: LegSampler,
                 render_pose: Any = None):
        if render_pose is None:
            from shoemodel.models.pose_render import render_pose
        self.sw, self.wd, self.foot, self.legs, self.render_pose = sw, wd, foot, legs, render_pose

    def shoe_classes(self, shoe_rgb: np.ndarray, foreground: np.ndarray | None = None,
                     classes: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Classes at the photo's size and WD's confidence. WD reads the photo as given when it was trained
        that way (`reads == "photo"`), else the shoe on black; the foreground only cuts given classes and
        feeds models trained on the shoe on black."""
        if classes is not None:
            classes = np.asarray(classes, dtype=np.uint8).copy()
            if foreground is not None:
                classes[~foreground] = BACKGROUND
            return classes, {"classes_from": "given"}
        if self.wd is None:
            raise ValueError("no WD model and no class mask given")
        reads = getattr(self.wd, "reads", "shoe_on_black")
        if reads == "photo":
            x = shoe_rgb
        else:
            if foreground is None:
                from shoemodel.pipelines.foreground import remove_studio_background

                foreground = remove_studio_background(shoe_rgb)
            x = np.where(foreground[..., None], shoe_rgb, 0).astype(np.uint8)
        conf: dict[str, Any] = {"classes_from": f"WD on the {'photo as given' if reads == 'photo' else 'shoe on black'}"}
        if hasattr(self.wd, "predict_scores") and not getattr(self.wd, "two_class", False):
            if reads == "photo":  # framed by a rough foreground's box (given, alpha, or the remover's)
                if foreground is None:
                    from shoemodel.pipelines.foreground import remove_studio_background

                    foreground = remove_studio_background(shoe_rgb)
                scores = self.wd.predict_scores([x], [foreground if foreground.any() else None])[0]
            else:
                scores = self.wd.predict_scores([x])[0]
            classes = scores.argmax(0).astype(np.uint8)
            conf["wd"] = wd_confidence(scores)
            if reads != "photo":
                # On black, a dark shoe part looks like the black around it, and WD calls it background
                # (holes SW fills with noise). The foreground already decided shoe vs background there, so
                # inside it WD only chooses visible vs wearable.
                inside = scores[1:].argmax(0).astype(np.uint8) + 1
                holes = foreground & (classes == BACKGROUND)
                conf["wd"]["holes_filled"] = int(holes.sum())
                classes = np.where(foreground, inside, BACKGROUND).astype(np.uint8)
        else:
            classes = np.asarray(self.wd.predict(x), dtype=np.uint8).copy()
        if reads != "photo":
            classes[~foreground] = BACKGROUND
        return classes, conf

    def conditions(self, shoe_rgb: np.ndarray, foreground: np.ndarray | None = None, classes: np.ndarray | None = None,
                   options: GenerateOptions | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Canvas photo, canvas classes, X_w and the visible mask on a square canvas of `resolution` (default
        SW's): the conditions the benchmark compares methods on."""
        opts = options or GenerateOptions()
        classes, _ = self.shoe_classes(shoe_rgb, foreground, classes)
        side = opts.resolution or self.sw.resolution
        canvas, placed = place(shoe_rgb, classes, (side, side), opts.layout)
        x_w = wearable_shoe_image(canvas, placed)
        return canvas, placed, x_w, placed == VISIBLE

    def __call__(self, shoe_rgb: np.ndarray, prompt: str, foreground: np.ndarray | None = None,
                 classes: np.ndarray | None = None, options: GenerateOptions | None = None,
                 work_rgb: np.ndarray | None = None) -> GenerateResult:
        """Run the whole pipeline on one shoe photo (H, W, 3 uint8). `work_rgb` is a reduced copy (same aspect)
        that WD reads instead of a huge photo; `foreground` / `classes` are at its size (else the photo's).
        The pasted pixels always come from `shoe_rgb`."""
        opts = options or GenerateOptions()
        h0, w0 = shoe_rgb.shape[:2]
        src = shoe_rgb if work_rgb is None else work_rgb
        for name, arr in (("foreground", foreground), ("classes", classes)):
            if arr is not None and arr.shape[:2] != src.shape[:2]:
                raise ValueError(f"{name} is {arr.shape[1]}x{arr.shape[0]}, the image WD reads is {src.shape[1]}x{src.shape[0]}")
        classes, conf = self.shoe_classes(src, foreground, classes)
        if not (classes == VISIBLE).any():
            raise NoShoeError("no visible shoe area found in the photo "
                              + ("(WD called every shoe pixel wearable or background)" if self.wd is not None
                                 and "WD" in conf.get("classes_from", "") else "(empty mask)"))
        out_size = (opts.resolution, opts.resolution) if opts.resolution else (opts.size or (w0, h0))
        canvas, exact = place_image(shoe_rgb, out_size, opts.layout)
        placed = place_classes(classes, out_size, opts.layout)
        visible = placed == VISIBLE
        if not visible.any():
            raise NoShoeError("the layout moved the visible shoe area off the canvas (check layout.scale / tx / ty)")
        x_w = wearable_shoe_image(canvas, placed)
        sw_size = sw_canvas_size(out_size, self.sw.resolution)
        x_w_sw = wearable_shoe_image(resize_rgb(canvas, sw_size), resize_classes(placed, sw_size))
        foot8 = np.asarray(self.foot.predict(x_w_sw), dtype=np.float32)
        keypoints = np.asarray(self.legs.sample(foot8, sw_size, opts.n, opts.seed), dtype=np.float32)
        poses = [self.render_pose(k, sw_size) for k in keypoints]
        raw_sw = self.sw.generate(x_w_sw, poses, prompt, negative_prompt=opts.negative_prompt, steps=opts.steps,
                                  guidance=opts.guidance, seed=opts.seed)
        raw = [resize_rgb(img, out_size) for img in raw_sw]
        images = [paste_back(img, x_w, visible) for img in raw]
        conf["foot"] = foot_confidence(foot8, sw_size)
        return GenerateResult(images=images, raw=raw, x_w=x_w, visible=visible, canvas=canvas, classes=placed,
                              foot8=foot8, keypoints=keypoints, poses=poses, x_w_sw=x_w_sw, sw_size=sw_size,
                              exact=exact, confidence=conf)
