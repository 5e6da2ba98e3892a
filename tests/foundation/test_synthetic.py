"""The synthetic sample: deterministic, varied, and its ground truth is exactly consistent."""

from __future__ import annotations

import numpy as np

from shoemodel.schemas.classes import BACKGROUND, VISIBLE, WEARABLE, wearable_shoe_image
from shoemodel.synthetic import make_product_example, make_worn_example


def test_same_seed_same_pixels_other_seed_other_pixels():
    a, b, c = make_worn_example(3), make_worn_example(3), make_worn_example(4)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.keypoints, b.keypoints)
    assert not np.array_equal(a.image, c.image)
    p, q = make_product_example(3), make_product_example(3)
    assert np.array_equal(p.image, q.image) and np.array_equal(p.area_mask, q.area_mask)


def test_product_masks_partition_the_shoe_and_xw_keeps_only_visible():
    for seed in range(25):
        ex = make_product_example(seed, 128)
        m = ex.area_mask
        assert set(np.unique(m).tolist()) <= {0, 1, 2}
        assert (m == WEARABLE).any() and (m == VISIBLE).any()
        # wearable ∪ visible = the shoe silhouette, rasterised independently of the label painting
        assert np.array_equal((m == VISIBLE) | (m == WEARABLE), ex.shoe_mask)
        # X_m is the photo on the shoe and black elsewhere
        assert np.array_equal(ex.shoe_image[m > 0], ex.image[m > 0])
        assert not ex.shoe_image[m == BACKGROUND].any()
        # X_w blacks out exactly background ∪ wearable
        xw = wearable_shoe_image(ex.image, m)
        assert not xw[(m == BACKGROUND) | (m == WEARABLE)].any()
        assert np.array_equal(xw[m == VISIBLE], ex.image[m == VISIBLE])


def test_worn_keypoints_inside_image_or_missing_and_shoe_image_matches_mask():
    for seed in range(40):
        ex = make_worn_example(seed, 128)
        k = ex.keypoints
        present = k[:, 2] > 0
        assert np.all((k[present, 0] >= 0) & (k[present, 0] < 128) & (k[present, 1] >= 0) & (k[present, 1] < 128))
        assert np.all(k[~present] == 0)
        assert np.array_equal(ex.shoe_image[ex.shoe_mask], ex.image[ex.shoe_mask])
        assert not ex.shoe_image[~ex.shoe_mask].any()


def test_sample_is_varied():
    worn = [make_worn_example(s, 128) for s in range(80)]
    feet = [((w.keypoints[[4, 6, 7, 8], 2] > 0).all(), (w.keypoints[[5, 9, 10, 11], 2] > 0).all()) for w in worn]
    assert any(a and b for a, b in feet), "some scenes show both feet"
    assert any(a != b for a, b in feet), "some scenes show one foot"
    assert any((w.keypoints[:, 2] == 0).any() for w in worn), "some keypoints are out of frame"
    # toes point both ways: big toe right of heel in some scenes, left in others
    dirs = {np.sign(w.keypoints[6, 0] - w.keypoints[8, 0]) for w in worn if w.keypoints[6, 2] and w.keypoints[8, 2]}
    assert {-1.0, 1.0} <= dirs
    captions = {make_product_example(s).caption for s in range(30)}
    assert len(captions) > 10
