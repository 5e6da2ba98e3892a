"""onnxruntime sessions on the best execution provider present: TensorRT, then CUDA, then the CPU.

The provider order is asked for, and the one the session really runs on (onnxruntime falls back when a
provider's libraries are missing) is what callers record in provenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Providers in order of preference; only those the installed onnxruntime offers are requested.
PREFERRED = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def preferred_providers(device: str = "auto") -> list[str]:
    """The providers to ask for: `cpu` forces the CPU; `auto` / `cuda` take the best that is installed."""
    import onnxruntime as ort

    if device == "cpu":
        return ["CPUExecutionProvider"]
    available = set(ort.get_available_providers())
    return [p for p in PREFERRED if p in available] or ["CPUExecutionProvider"]


def make_session(path: str | Path, device: str = "auto", threads: int = 1) -> tuple[Any, str]:
    """(InferenceSession, the provider it runs on) for the ONNX file at `path`."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    from shoemodel.models.device import onnx_provider_options, onnx_providers

    providers = onnx_providers(device)  # cuda:N asked for without a CUDA provider: one clear error
    session = ort.InferenceSession(str(path), opts, providers=onnx_provider_options(providers, device))
    return session, session.get_providers()[0]
