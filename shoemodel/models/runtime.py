"""Import diffusers/transformers safely on CPU torch (the paired torchvision wheel lacks its ops)."""

from __future__ import annotations


def prepare_imports() -> None:
    """Call before importing diffusers, transformers models or torchmetrics: registers torchvision op fallbacks."""
    from shoemodel.compat.torchvision import ensure_torchvision

    ensure_torchvision()


def set_torch_threads(n: int, cpu_only: bool = False) -> None:
    """Use n CPU threads in torch (0 leaves torch's default); on a busy 2-core box 1 thread is ~10x faster than 2.

    With `cpu_only`, nothing changes when a GPU does the work (trainers and evaluators).
    """
    if n and n > 0:
        import torch

        from shoemodel.models.device import resolve_device

        if cpu_only and resolve_device() != "cpu":
            return
        torch.set_num_threads(int(n))
