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


class _Recorder:
    """A predictor that reads what it is told to and keeps what it was given (all visible, one wearable pixel)."""

    def __init__(self, reads: str):
        self.reads, self.seen = reads, []

    def __call__(self, image, content=None):
        self.seen.append((image.copy(), None if content is None else content.copy()))
        p = np.zeros((3, *image.shape[:2]), np.float32)
        p[1] = 0.6
        p[0] = 0.4
        return p


def test_each_predictor_gets_what_its_wd_was_trained_on():
    """A photo-trained WD reads the record's photo framed by the shoe's pixels; a shoe-on-black WD (and a plain
    callable) reads X_m: pre-annotations, the uncertainty ranking and the ML backend share `record_input`."""
    from shoemodel.annotation.export import build_task
    from shoemodel.annotation.predictor import photo_input, record_input
    from shoemodel.schemas.records import decode_image
    from tests.helpers.sets import product_record

    rec = product_record(3)
    photo, shoe = decode_image(rec["image"], "RGB"), decode_image(rec["shoe_image"], "RGB")
    assert not np.array_equal(photo, shoe)  # the photo keeps its background, X_m does not
    image, content = record_input(lambda im: im, rec)
    assert np.array_equal(image, shoe) and content is None
    on_photo, on_black = _Recorder("photo"), _Recorder("shoe_on_black")
    image, content = record_input(on_photo, rec)
    assert np.array_equal(image, photo) and np.array_equal(content, shoe.max(-1) > 0)

    for pred, want in ((on_photo, photo), (on_black, shoe)):
        task = build_task(rec, 1, "/data/x.png", pred, "v1")
        assert np.array_equal(pred.seen[-1][0], want) and task["predictions"][0]["model_version"] == "v1"
    assert np.array_equal(on_photo.seen[-1][1], shoe.max(-1) > 0) and on_black.seen[-1][1] is None

    studio = np.full((40, 48, 3), 255, np.uint8)  # a task photo with no pool record: white backdrop, dark shoe
    studio[10:30, 8:40] = 30
    image, content = photo_input(on_photo, studio)
    assert np.array_equal(image, studio) and content[20, 20] and not content[2, 2]
    image, content = photo_input(on_black, studio)
    assert content is None and image[2, 2].max() == 0 and image[20, 20].max() == 30


def test_uncertainty_ranking_feeds_a_photo_trained_wd_the_photos(tmp_path):
    from shoemodel.annotation.selection import select
    from shoemodel.schemas.records import decode_image
    from shoemodel.store import iter_records
    from tests.helpers.sets import write_pool

    pool = write_pool(tmp_path / "pool", 4)
    photos = {r["id"]: decode_image(r["image"], "RGB") for r in iter_records(pool)}
    pred = _Recorder("photo")
    sel = select(pool, 2, seed=0, exclude=set(), predictor=pred, candidates=4)
    assert sel.method == "uncertainty" and len(pred.seen) == 4
    assert all(any(np.array_equal(im, p) for p in photos.values()) for im, _ in pred.seen)


def test_adapter_passes_a_photo_wd_its_content_box():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from shoemodel.annotation.predictor import record_input
    from shoemodel.models.wd.predictor import WDPredictor
    from tests.helpers.sets import product_record

    wd = WDPredictor.from_config_random("tiny", image_size=32)
    wd.reads = "photo"
    run = from_wd_predictor(wd)
    assert run.reads == "photo"
    rec = product_record(1)
    image, content = record_input(run, rec)
    _, probs = predict(run, image, content)
    want = wd.predict_scores([image], [content])[0]
    np.testing.assert_allclose(probs, np.moveaxis(want, 0, -1), atol=1e-6)
