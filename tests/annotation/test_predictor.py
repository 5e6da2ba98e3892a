"""The pluggable predictor: output forms, uncertainty, and the adapter to the real WD model."""

from __future__ import annotations

import numpy as np
import pytest

from shoemodel.annotation.predictor import from_wd_predictor, load_predictor, predict, uncertainty


def test_ids_and_probabilities_in_both_layouts():
    img = np.zeros((5, 7, 3), np.uint8)
    mask, probs = predict(lambda im: np.ones(im.shape[:2], np.uint8), img)
    assert mask.shape == (5, 7) and probs is None
    p = np.zeros((3, 5, 7), np.float32)
    p[2] = 0.7
    p[0] = 0.3
    mask, probs = predict(lambda im: p, img)
    assert (mask == 2).all() and probs.shape == (5, 7, 3)
    assert uncertainty(probs) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="shape"):
        predict(lambda im: np.zeros((4, 4)), img)
    with pytest.raises(ValueError, match="class ids"):
        predict(lambda im: np.full((5, 7), 7), img)


def test_load_predictor_spec_errors_are_clear():
    assert load_predictor("") is None
    with pytest.raises(ValueError, match="module:factory"):
        load_predictor("no_colon")
    with pytest.raises(ValueError, match="cannot load"):
        load_predictor("shoemodel.nope:factory")


def test_adapter_runs_an_untrained_wd_model():
    pytest.importorskip("torch")  # the training extra; a broken import of the project's own module must fail, not skip
    pytest.importorskip("transformers")
    from shoemodel.models.wd.predictor import WDPredictor

    wd = WDPredictor.from_config_random("tiny", image_size=32)
    run = from_wd_predictor(wd)
    img = np.zeros((40, 48, 3), np.uint8)
    img[10:30, 10:40] = 200
    mask, probs = predict(run, img)
    assert mask.shape == (40, 48) and probs is not None and np.allclose(probs.sum(-1), 1, atol=1e-4)
