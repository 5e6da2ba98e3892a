"""Every model backend of the curation stages, declared once: name -> builder, library, weights, hint.

The stages build their model with `build(stage, cfg)`; provenance records `library` and hashes the weights
when `needs_weights`; `shoemodel weights` lists `files`; the config's `backend` fields are typed with
`choices(stage)`; help texts name `names(stage)`; an unknown name is `unknown_backend` everywhere. Adding a
backend is one `register(Backend(...))` line below plus its module with a `builder(cfg) -> model` function
(imported only when that backend is used, so optional libraries stay optional). Like segment-anything's
`sam_model_registry`, but the builder is a "module:function" string so listing backends imports nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

from shoemodel.config_fields import unknown_value
from shoemodel.models.weights import SAM_HINT

STAGES = ("detect", "pose", "segment")
#: values of curation.<stage>.backend that pick a backend at run time (detect.py's resolve_backend)
PICKERS: dict[str, tuple[str, ...]] = {"detect": ("auto",)}


@dataclass(frozen=True)
class Backend:
    """One backend of one stage."""

    name: str  # the value of curation.<stage>.backend
    stage: str  # detect | pose | segment
    _: KW_ONLY
    builder: str  # "module:function": function(stage config section) -> the model
    library: tuple[str, ...] = ()  # distributions whose version provenance records (the first installed one)
    files: tuple[tuple[str, str], ...] = ()  # (config field, what to download) for each file it loads
    needs_weights: bool = False  # the `weights` file is required (else: optional, e.g. a .yaml or none at all)
    hint: str = ""  # what to install / where the weights come from (shown with a missing file)
    about: str = ""  # a few words for help texts

    @property
    def module(self) -> str:
        """The module that implements it (imported only when it is built)."""
        return self.builder.partition(":")[0]

    def load(self) -> Any:
        """The builder function itself (imports its module)."""
        module, _, fn = self.builder.partition(":")
        return getattr(importlib.import_module(module), fn)


_REGISTRY: dict[str, dict[str, Backend]] = {s: {} for s in STAGES}


def register(backend: Backend) -> Backend:
    """Add a backend (a name may be registered once per stage)."""
    table = _REGISTRY[backend.stage]
    if backend.name in table:
        raise ValueError(f"curation.{backend.stage}.backend '{backend.name}' is registered twice")
    table[backend.name] = backend
    return backend


#: The one "unknown backend" message (the config loader gives the same one for a `Literal` field)
unknown_backend = unknown_value


def names(stage: str) -> tuple[str, ...]:
    """The registered backend names of a stage, in registration order."""
    return tuple(_REGISTRY[stage])


def choices(stage: str) -> tuple[str, ...]:
    """What curation.<stage>.backend accepts: the backend names, after any picker like detect's `auto`."""
    return (*PICKERS.get(stage, ()), *names(stage))


def get(stage: str, name: str) -> Backend:
    """The backend `name` of `stage`; an unknown one is a ValueError naming curation.<stage>.backend."""
    if stage not in _REGISTRY:
        raise ValueError(unknown_backend("curation stage with backends", stage, STAGES))
    if name not in _REGISTRY[stage]:
        raise ValueError(unknown_backend(f"curation.{stage}.backend", name, choices(stage)))
    return _REGISTRY[stage][name]


def build(stage: str, cfg: Any, name: str | None = None) -> Any:
    """The model of backend `name` (default: `cfg.backend`) built from its stage config section."""
    return get(stage, name or cfg.backend).load()(cfg)


def all_backends() -> list[Backend]:
    """Every registered backend, stage by stage."""
    return [b for s in STAGES for b in _REGISTRY[s].values()]


def modules(stage: str) -> tuple[str, ...]:
    """The modules that implement a stage's backends (imported lazily, so an import scan cannot see them: a stage's
    code dependencies are its module's imports plus these)."""
    return tuple(dict.fromkeys(b.module for b in _REGISTRY[stage].values()))


def help_list(stage: str) -> str:
    """"a / b / c" of a stage's backends, for help texts."""
    return " / ".join(choices(stage))


# --- detect: (images) -> person boxes. `auto` is not a backend: it picks yolox_onnx or full_frame (detect.py).
register(Backend(
    "yolox_onnx", "detect", builder="shoemodel.curation.detect_yolox:from_config", library=("onnxruntime",),
    files=(("weights", "yolox_nano.onnx ... yolox_x.onnx (YOLOX release, ONNX)"),), needs_weights=True,
    hint="YOLOX ONNX files come from the YOLOX release (yolox_nano.onnx ... yolox_x.onnx); "
         "tests use ../shared/fixtures/weights/yolox_nano/yolox_nano.onnx.",
    about="YOLOX ONNX"))
register(Backend(
    "ultralytics", "detect", builder="shoemodel.curation.detect_ultralytics:from_config", library=("ultralytics",),
    files=(("weights", "yolo11n-pose.pt (Ultralytics)"),),  # optional: a model .yaml builds random weights
    hint="Ultralytics checkpoints (.pt) load by path; a model .yaml builds the architecture with random weights.",
    about="ultralytics YOLO / RT-DETR"))
register(Backend(
    "full_frame", "detect", builder="shoemodel.curation.detect:full_frame",
    hint="No weights: the whole image is the person box (pre-cropped leg photos).", about="whole image"))

# --- pose: (image, person boxes) -> (P, 133, 3) COCO-WholeBody points
register(Backend(
    "mediapipe", "pose", builder="shoemodel.curation.pose_mediapipe:from_config", library=("mediapipe",),
    hint="pip install mediapipe==0.10.21 (model_complexity 1 ships in the wheel).", about="MediaPipe BlazePose"))
register(Backend(
    "onnx_wholebody", "pose", builder="shoemodel.curation.pose_onnx_wholebody:from_config",
    library=("onnxruntime-gpu", "onnxruntime"),
    files=(("weights", "rtmw-x_simcc-cocktail14_pt-ucoco_270e-384x288 (the .onnx in mmpose's RTMW-x ONNX zip); "
                       "or RTMW-l / DWPose-l (dw-ll_ucoco_384.onnx)"),), needs_weights=True,
    hint="Whole-body ONNX files: RTMW-x 384x288 (rtmw-x_simcc-cocktail14_pt-ucoco_270e-384x288, the best foot AP), "
         "RTMW-l, or DWPose-l (dw-ll_ucoco_384.onnx) from the mmpose RTMPose / DWPose releases (an .onnx inside the "
         "released zip); set curation.pose.weights to the .onnx file.",
    about="RTMW / DWPose ONNX"))
register(Backend(
    "vitpose", "pose", builder="shoemodel.curation.pose_vitpose:from_config", library=("transformers",),
    files=(("weights", "ViTPose+ whole-body .pth (ViTAE-Transformer/ViTPose release) -> "
                       "shoemodel convert vitpose-wholebody SRC DIR"),), needs_weights=True,
    hint="Give a transformers VitPoseForPoseEstimation folder (config.json + weights) whose head has 133 "
         "COCO-WholeBody outputs (num_labels=133), e.g. a converted ViTPose+ whole-body checkpoint.",
    about="ViTPose"))
register(Backend(
    "mmpose", "pose", builder="shoemodel.curation.pose_mmpose:from_config", library=("mmpose",),
    files=(("config", "the model's mmpose config .py"), ("weights", "the model's mmpose .pth")), needs_weights=True,
    hint="mmpose is an optional extra (mmcv 2.1 compiled from source); see docs/curation.md.", about="mmpose"))

# --- segment: (image, foot prompts) -> one bool mask per foot
register(Backend(
    "sam", "segment", builder="shoemodel.curation.segment_sam:from_config", library=("segment-anything",),
    files=(("weights", "sam_vit_h_4b8939.pth (or sam_vit_l_0b3195.pth / sam_vit_b_01ec64.pth; "
                       "segment-anything release)"),), needs_weights=True,
    hint=SAM_HINT, about="SAM"))
register(Backend(
    "hf_sam", "segment", builder="shoemodel.curation.segment_sam:from_config", library=("transformers",),
    files=(("weights", "facebook/sam2.1-hiera-tiny (or facebook/sam-vit-huge, syscv-community/sam-hq-vit-huge) "
                       "folder"),), needs_weights=True,
    hint=SAM_HINT, about="transformers SAM / HQ-SAM / SAM 2"))
register(Backend(
    "grabcut", "segment", builder="shoemodel.curation.segment_grabcut:from_config",
    library=("opencv-python-headless", "opencv-python"),
    hint="No weights: keypoint-seeded GrabCut (the labelled fallback).", about="GrabCut fallback"))
register(Backend(
    "shoe_prior", "segment", builder="shoemodel.curation.segment_prior:from_config", library=("torch",),
    hint="No download: the tiny shoe prior ships in the package (shoemodel/models/shoe_prior/weights; retrain with "
         "shoemodel train shoe-prior); GrabCut segments a foot it finds nothing for.",
    about="shoe prior (tiny UNet on foot crops, the default)"))

# The config fields' types (shoemodel.config checks a Literal at load time, with the same message)
DetectBackend = Literal[choices("detect")]  # type: ignore[valid-type]
PoseBackend = Literal[choices("pose")]  # type: ignore[valid-type]
SegmentBackend = Literal[choices("segment")]  # type: ignore[valid-type]

#: For shoemodel.dvc_deps: the builder modules named above are imported only through these functions, so a command
#: that reads the names or types here (every config class does) does not depend on every backend's module.
IMPORTS_BUILDERS_THROUGH = ("build",)
