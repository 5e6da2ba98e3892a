"""WD training: Segformer on the wearable-area set (paper §3.1)."""

from shoemodel.training.wd.config import WDConfig

__all__ = ["WDConfig"]
