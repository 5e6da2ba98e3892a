"""WD at inference: the 3-class Segformer and its predictor (paper §3.1)."""

from shoemodel.models.wd.predictor import WDPredictor

__all__ = ["WDPredictor"]
