"""Import diffusers/transformers safely on CPU torch (the paired torchvision wheel lacks its ops)."""

from __future__ import annotations

from shoemodel.training._torchvision_compat import ensure_torchvision_importable


def prepare_imports() -> None:
    """Call before importing diffusers or transformers models: registers torchvision op fallbacks if needed."""
    ensure_torchvision_importable()
