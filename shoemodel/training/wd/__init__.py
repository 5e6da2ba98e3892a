"""WD: wearable-area detection with Segformer (paper §3.1)."""

from shoemodel.training.wd.config import WDConfig
from shoemodel.training.wd.predict import WDPredictor

__all__ = ["WDConfig", "WDPredictor"]
