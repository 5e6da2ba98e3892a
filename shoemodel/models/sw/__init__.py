"""SW at inference: the ShoeControlNet on SD 1.5 over X_w ⊕ X_p, DDIM, CFG 7 (paper §3.3)."""

from shoemodel.models.sw.generator import SWGenerator

__all__ = ["SWGenerator"]
