"""Where and in what precision a model computes: one vocabulary (`device`, `dtype`) for every model stage.

`device`: auto | cpu | cuda | cuda:N (auto = the GPU this process was given, else the CPU).
`dtype`: auto | float32 | bfloat16 | float16 (auto = bfloat16 on a GPU that supports it, float16 on an older
GPU, float32 on the CPU, where reduced precision is slower and less exact). onnxruntime models get the best
execution provider present (TensorRT, then CUDA, then CPU) and report the one that was actually used.
"""

from __future__ import annotations

import os
import re
from typing import Any

DEVICES = "auto | cpu | cuda | cuda:N"
DTYPES = ("auto", "float32", "bfloat16", "float16")
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


def resolve_dtype(name: str = "auto", device: str = "cpu") -> Any:
    """The torch dtype for `name` on `device`; reduced precision on the CPU is refused (slow and inexact there)."""
    import torch

    name = (name or "auto").strip().lower()
    if name not in DTYPES:
        raise ValueError(f"dtype '{name}' unknown; use {' | '.join(DTYPES)}")
    on_gpu = device.startswith("cuda")
    if name == "auto":
        if not on_gpu:
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if name != "float32" and not on_gpu:
        raise ValueError(f"dtype '{name}' on the CPU is not supported for curation models; use float32 or auto")
    return getattr(torch, name)


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
    if not torch.cuda.is_available():
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
