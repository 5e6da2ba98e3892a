"""The shoe prior: a tiny segmentation model of shoes around a person's foot points, trained on the CCP fixture
photos (`shoemodel train shoe-prior`) and shipped in weights/ so every clone segments shoes offline."""

from shoemodel.models.shoe_prior.predictor import PriorMap, ShoePrior

__all__ = ["PriorMap", "ShoePrior"]
