"""Where and in what precision a model computes: one vocabulary (`device`, precision) for every model and trainer.

`device`: auto | cpu | cuda | cuda:N (auto = the GPU this process was given, else the CPU); `resolve_device` is
the one place that asks torch whether there is a GPU.
Precision (curation's `dtype`, training's `mixed_precision`, `train.sw.cache_dtype`): auto | float32 | bfloat16 |
float16, with the accelerate spellings no (= float32) | fp32 | bf16 | fp16 meaning the same, so both keys take
either. `resolve_dtype` is the one resolver: auto = bfloat16 on a GPU that supports it, else float16 on an older
GPU for inference (float32 for training), float32 on the CPU, where reduced precision is slower and less exact
(curation models refuse it there; training autocasts). onnxruntime models get the best execution provider
present (TensorRT, then CUDA, then CPU) and report the one that was actually used.
"""

from __future__ import annotations

import os
import re
from typing import Any

DEVICES = "auto | cpu | cuda | cuda:N"
DTYPES = ("auto", "float32", "bfloat16", "float16")
#: every accepted spelling -> its DTYPES name (training's accelerate names included)
PRECISIONS = {"auto": "auto", "float32": "float32", "fp32": "float32", "no": "float32",
              "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16"}
_ACCELERATE = {"float32": "no", "bfloat16": "bf16", "float16": "fp16"}
_CUDA = re.compile(r"^cuda(:\d+)?$")


def resolve_device(name: str = "auto") -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda[:N]' without a GPU is a one-line error."""
    name = (name or "auto").strip().lower()
    if name == "cpu":
        return "cpu"
    if name != "auto" and not _CUDA.match(name):
        raise ValueError(f"device '{name}' unknown; use {DEVICES}")
    import torch

    available = torch.cuda.is_available()
    if name == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise ValueError(f"device '{name}' asked for, but torch sees no CUDA GPU here; use device: cpu or auto")
    index = int(name.split(":")[1]) if ":" in name else 0
    if index >= torch.cuda.device_count():
        raise ValueError(f"device '{name}': only {torch.cuda.device_count()} CUDA device(s) visible")
    return name


def precision_name(name: str | None, what: str = "dtype") -> str:
    """The DTYPES name of any accepted spelling ("bf16" -> "bfloat16", "no" -> "float32"); else a one-line error."""
    key = (name or "auto").strip().lower() if isinstance(name, str) or name is None else str(name)
    if key.removeprefix("torch.") in PRECISIONS:
        return PRECISIONS[key.removeprefix("torch.")]
    raise ValueError(f"{what} '{name}' unknown; use {' | '.join(DTYPES)} (or {' | '.join(_ACCELERATE.values())}, fp32)")


def torch_dtype(name: Any, what: str = "dtype") -> Any:
    """An explicit precision (any spelling, or a torch.dtype) as a torch dtype; None stays None (no autocast)."""
    import torch

    if name is None or isinstance(name, torch.dtype):
        return name
    canonical = precision_name(str(name), what)
    if canonical == "auto":
        raise ValueError(f"{what} 'auto' needs a device here; give float32, bfloat16 or float16")
    return getattr(torch, canonical)


def resolve_dtype(name: str = "auto", device: str = "cpu", *, training: bool = False) -> Any:
    """The torch dtype for precision `name` (any spelling) on `device`: the one precision resolver.

    auto: bfloat16 on a GPU that supports it, else float16 for inference (float32 for `training`: no fp16
    loss scaling by surprise), float32 on the CPU. Reduced precision on the CPU is refused for inference (slow and
    inexact there); training asks for it explicitly and gets CPU autocast."""
    import torch

    name = precision_name(name)
    on_gpu = str(device).startswith("cuda")
    if name == "auto":
        if not on_gpu:
            return torch.float32
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32 if training else torch.float16
    if name != "float32" and not on_gpu and not training:
        raise ValueError(f"dtype '{name}' on the CPU is not supported for curation models; use float32 or auto")
    return getattr(torch, name)


def accelerate_precision(dtype: Any) -> str:
    """accelerate's `mixed_precision` for a torch dtype: no | bf16 | fp16."""
    return _ACCELERATE[dtype_name(dtype)]


def dtype_name(dtype: Any) -> str:
    """torch.bfloat16 -> 'bfloat16' (for provenance and logs)."""
    return str(dtype).replace("torch.", "")


def onnx_providers(device: str = "auto") -> list[str]:
    """onnxruntime providers to try, best first: TensorRT and CUDA when installed and a GPU is asked for, then CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    want_gpu = device != "cpu"
    order = ["TensorrtExecutionProvider", "CUDAExecutionProvider"] if want_gpu else []
    chosen = [p for p in order if p in available] + ["CPUExecutionProvider"]
    if device.startswith("cuda") and device != "auto" and len(chosen) == 1:
        raise ValueError(f"device '{device}' asked for, but onnxruntime has no CUDA provider here "
                         f"(available: {available}); install onnxruntime-gpu or use device: cpu")
    return chosen


def onnx_provider_options(providers: list[str], device: str) -> list[Any]:
    """Providers with the GPU index of `device` (cuda:N -> device_id N) for onnxruntime's session."""
    index = int(device.split(":")[1]) if device.startswith("cuda:") else 0
    return [(p, {"device_id": index}) if p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") else p for p in providers]


def pin_to_gpu(resources: dict[str, float] | None = None) -> str | None:
    """Make this process compute on its own GPU: the one CUDA_VISIBLE_DEVICES names, else GPU 0 (from `resources`).

    A Dask worker started with `--resources GPU=1` and `CUDA_VISIBLE_DEVICES=N` sees exactly one GPU, which is
    then `cuda:0`; set as torch's current device, so `device: auto` and onnxruntime's default land on it.
    Returns the device string, or None where there is no GPU.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return None
    if resolve_device() == "cpu":
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    index = 0 if visible else int((resources or {}).get("GPU_INDEX", 0))
    torch.cuda.set_device(index)
    return f"cuda:{index}"


def gpu_pin_plugin() -> Any:
    """A Dask worker plugin: a worker offering the GPU resource pins itself to its GPU on start (`pin_to_gpu`)."""
    from distributed import WorkerPlugin

    class GpuPin(WorkerPlugin):
        name = "shoemodel-gpu-pin"

        def setup(self, worker: Any) -> None:
            resources = dict(worker.state.total_resources or {})
            if resources.get("GPU", 0) > 0:
                worker.shoemodel_device = pin_to_gpu(resources)

    return GpuPin()


def use_sdpa(model: Any) -> str:
    """Switch a transformers model to PyTorch's fused SDPA attention where it (or its backbone) supports it.

    transformers already picks SDPA by default for models that declare it (SAM, the ViTPose backbone); this
    makes it explicit for models built in memory. Returns the attention the heavy part now uses.
    """
    for part in (model, getattr(model, "backbone", None), getattr(model, "vision_encoder", None)):
        if part is not None and getattr(part, "_supports_sdpa", False) and hasattr(part, "set_attn_implementation"):
            try:
                part.set_attn_implementation("sdpa")
            except (ValueError, ImportError):  # keeps eager attention
                pass
    return attention_of(model)


def attention_of(model: Any) -> str:
    """The attention implementation of a transformers model's heavy part (backbone / vision encoder), for provenance."""
    for part in (getattr(model, "backbone", None), getattr(model, "vision_encoder", None), model):
        impl = getattr(getattr(part, "config", None), "_attn_implementation", None)
        if part is not None and impl:
            return str(impl)
    return "eager"
