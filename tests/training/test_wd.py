"""WD: model presets, augmentation invariants, predictor output contract, checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest

from shoemodel.models.wd.predictor import WDPredictor
from shoemodel.schemas.classes import VISIBLE, WEARABLE
from shoemodel.training import augment as A


def test_presets_build_three_and_two_class_heads():
    from shoemodel.models.wd.model import MIT_PRESETS, segformer_config

    assert segformer_config("b2").num_labels == 3
    assert segformer_config("tiny", two_class=True).num_labels == 2
    assert segformer_config("b5").depths == [3, 6, 40, 3]
    assert set(MIT_PRESETS) >= {"b0", "b1", "b2", "b3", "b4", "b5"}
    with pytest.raises(ValueError, match="unknown Segformer size"):
        segformer_config("b9")


def test_missing_pretrained_path_is_named():
    from shoemodel.models.wd.model import build_segformer

    with pytest.raises(FileNotFoundError, match="nowhere/mit"):
        build_segformer("b0", pretrained="nowhere/mit")


def test_mosaic_keeps_image_and_mask_aligned():
    rng = np.random.default_rng(0)
    imgs, masks = [], []
    for v in (1, 2, 3, 4):
        img = np.zeros((40, 30, 3), np.uint8)
        img[5:35, 5:25] = 60 * v
        m = np.zeros((40, 30), np.uint8)
        m[5:35, 5:25] = v % 3
        imgs.append(img)
        masks.append(m)
    canvas, mask = A.mosaic(imgs, masks, 64, rng)
    assert canvas.shape == (64, 64, 3) and mask.shape == (64, 64)
    for v in (1, 2, 3, 4):  # every shoe made it in, with its own label under its pixels
        sel = canvas[..., 0] == 60 * v
        assert sel.sum() > 10
        assert (mask[sel] == v % 3).mean() > 0.95


def test_colour_jitter_keeps_black_background_black():
    img = np.zeros((16, 16, 3), np.uint8)
    img[4:12, 4:12] = (200, 100, 50)
    out = A.color_jitter(img, np.random.default_rng(1), 0.4, 0.4, 0.4, 0.1, foreground=img.max(-1) > 0)
    assert (out[:4] == 0).all() and not np.array_equal(out[4:12, 4:12], img[4:12, 4:12])


def test_training_samples_are_deterministic_per_seed(wearable_set):
    from shoemodel.training.data import load_split
    from shoemodel.training.wd.config import WDConfig
    from shoemodel.training.wd.data import WearableAreaDataset

    ds = WearableAreaDataset(load_split(wearable_set, ["image", "area_mask"], "train"), WDConfig(image_size=48))
    a, b, c = ds[(0, 5)], ds[(0, 5)], ds[(0, 6)]
    assert a["pixel_values"].shape == (3, 48, 48) and a["labels"].shape == (48, 48)
    assert (a["pixel_values"] == b["pixel_values"]).all() and not (a["pixel_values"] == c["pixel_values"]).all()
    assert set(np.unique(a["labels"].numpy())) <= {0, 1, 2}


def test_predict_contract_and_two_class_mapping():
    img = np.zeros((50, 70, 3), np.uint8)
    img[10:40, 10:60] = 120
    p3 = WDPredictor.from_config_random("tiny", 32)
    out = p3.predict(img)
    assert out.shape == (50, 70) and out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1, 2}
    p2 = WDPredictor.from_config_random("tiny", 32, two_class=True)
    raw = np.zeros((50, 70), np.uint8)
    raw[10:20, 10:20] = 1
    three = p2.to_three_class(raw, img)
    assert three[15, 15] == WEARABLE and three[30, 30] == VISIBLE and three[0, 0] == 0


def test_checkpoint_round_trip_and_learning_signal(wearable_set, tmp_path):
    from shoemodel.training.wd.config import WDConfig
    from shoemodel.training.wd.evaluate import evaluate_predictor
    from shoemodel.training.wd.train import train_wd

    cfg = WDConfig(train_set=str(wearable_set), output_dir=str(tmp_path / "wd"), metrics_dir=str(tmp_path / "m"),
                   model_size="tiny", image_size=32, steps=40, batch_size=4, learning_rate=3e-3, warmup_steps=2,
                   mixed_precision="no", num_workers=0, progress=False, input="shoe_on_black")
    # (X_m input: 40 steps at 32 px show a learning signal; the photo input needs the sample's 128 px and
    # 300 steps, measured in benchmarks/training/wd_photos.py)
    train_wd(cfg)
    assert (tmp_path / "wd" / "config.json").exists() and (tmp_path / "wd" / "model.safetensors").exists()
    assert (tmp_path / "m" / "train_log.csv").exists()
    p = WDPredictor.from_checkpoint(tmp_path / "wd")
    assert p.image_size == 32 and not p.two_class and p.reads == "shoe_on_black"
    trained = evaluate_predictor(p, str(wearable_set))
    untrained = evaluate_predictor(WDPredictor.from_config_random("tiny", 32), str(wearable_set))
    assert trained["mIoU"] > untrained["mIoU"] and trained["visible/IoU"] > untrained["visible/IoU"]


def test_two_class_ablation_trains_and_reports_other_vs_wearable(wearable_set, tmp_path):
    from shoemodel.training.wd.config import WDConfig
    from shoemodel.training.wd.evaluate import evaluate_predictor
    from shoemodel.training.wd.train import train_wd

    cfg = WDConfig(train_set=str(wearable_set), output_dir=str(tmp_path / "wd2"), metrics_dir=str(tmp_path / "m"),
                   model_size="tiny", image_size=32, steps=3, batch_size=2, two_class=True, class_weights=(1.0, 5.0),
                   mixed_precision="no", num_workers=0, progress=False, warmup_steps=0)
    train_wd(cfg)
    p = WDPredictor.from_checkpoint(tmp_path / "wd2")
    assert p.two_class and p.reads == "photo", "the default input is the photo as given"
    r = evaluate_predictor(p, str(wearable_set))
    assert {"other/IoU", "wearable/IoU", "mIoU", "mAcc", "aAcc"} <= set(r) and "visible/IoU" not in r
    with pytest.raises(ValueError, match="class_weights"):
        train_wd(WDConfig(train_set=str(wearable_set), two_class=True, class_weights=(1.0, 1.0, 5.0)))


def test_pretrained_backbone_by_path_gets_a_fresh_three_class_head(tmp_path):
    from transformers import SegformerForSemanticSegmentation

    from shoemodel.models.wd.model import MIT_PRESETS, build_segformer, segformer_config

    cfg = segformer_config("tiny")
    cfg.num_labels, cfg.id2label, cfg.label2id = 19, {i: str(i) for i in range(19)}, {str(i): i for i in range(19)}
    src = SegformerForSemanticSegmentation(cfg)
    src.save_pretrained(tmp_path / "mit")
    model = build_segformer("tiny", pretrained=str(tmp_path / "mit"))
    assert model.config.num_labels == 3 and model.decode_head.classifier.out_channels == 3
    key = "segformer.stages.0.patch_embeddings.proj.weight"
    assert (model.state_dict()[key] == src.state_dict()[key]).all()  # the encoder weights came from the path
    assert MIT_PRESETS["tiny"]["hidden_sizes"] == model.config.hidden_sizes


def test_random_backdrops_span_white_to_black_and_keep_the_shoe():
    from shoemodel.synthetic.examples import make_product_example
    from shoemodel.training.augment import random_backdrop, replace_background

    means = [random_backdrop((40, 30), np.random.default_rng(s)).mean() for s in range(60)]
    assert min(means) < 50 and max(means) > 205, (min(means), max(means))
    assert random_backdrop((40, 30), np.random.default_rng(1)).shape == (30, 40, 3)
    ex = make_product_example(2, 48)
    out = replace_background(ex.image, ex.area_mask, np.random.default_rng(3))
    shoe = ex.area_mask > 0
    assert np.array_equal(out[shoe], ex.image[shoe]) and not np.array_equal(out[~shoe], ex.image[~shoe])


def test_photo_samples_read_the_photo_with_a_backdrop(wearable_set):
    from shoemodel.training.data import load_split
    from shoemodel.training.wd.config import WDConfig
    from shoemodel.training.wd.data import WearableAreaDataset

    table = load_split(wearable_set, ["image", "area_mask"], "train")
    plain = WearableAreaDataset(table, WDConfig(image_size=48, background_prob=0.0, mosaic_prob=0.0), train=False)
    img, mask = plain.load(0)
    assert img[mask == 0].mean() > 150, "the sample's photos are on light studio backgrounds"
    cfg = WDConfig(image_size=48, background_prob=1.0, mosaic_prob=0.0, rotate_prob=0.0, scale_min=1.0, scale_max=1.0,
                   flip_prob=0.0, brightness=0, contrast=0, saturation=0, hue=0)
    ds = WearableAreaDataset(table, cfg)
    backs = [ds.sample(0, seed) for seed in range(24)]
    bg_means = [im[m == 0].mean() for im, m in backs]
    assert min(bg_means) < 60 and max(bg_means) > 140, bg_means  # (the letterbox border is black too)
    with pytest.raises(ValueError, match="train.wd.input"):
        WearableAreaDataset(table, WDConfig(input="x-ray"))


def test_a_photo_is_framed_by_the_content_box_and_outside_is_background():
    img = np.full((60, 80, 3), 230, np.uint8)
    img[20:40, 30:50] = 20
    box = np.zeros((60, 80), bool)
    box[20:40, 30:50] = True
    p = WDPredictor.from_config_random("tiny", 32)
    framed = p.predict_scores([img], [box])[0]
    assert framed.shape == (3, 60, 80)
    assert np.allclose(framed[:, 0, 0], [1, 0, 0]), "outside the frame (box + margin) is background"
    whole = p.predict_scores([img])[0]
    assert not np.allclose(whole[:, 0, 0], [1, 0, 0]), "without a box the whole photo is on the canvas"
