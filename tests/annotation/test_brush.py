"""Masks <-> brush results and the agreement / merge rule, without a server."""

from __future__ import annotations

import numpy as np
import pytest

from shoemodel.annotation.agreement import mean_iou, merge_masks, pairwise_agreement
from shoemodel.annotation.brush import UnknownLabelError, mask_to_results, results_to_mask
from shoemodel.annotation.labeling import label_config


def test_round_trip_is_exact_on_noisy_masks():
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, (37, 53), dtype=np.uint8)
    results = mask_to_results(mask)
    assert {r["value"]["brushlabels"][0] for r in results} == {"Visible", "Wearable"}
    np.testing.assert_array_equal(results_to_mask(results, 53, 37), mask)


def test_background_only_mask_gives_no_results_and_decodes_to_background():
    assert mask_to_results(np.zeros((8, 9), np.uint8)) == []
    assert results_to_mask([], 9, 8).sum() == 0


def test_unknown_label_and_wrong_size_are_named():
    m = np.ones((6, 7), np.uint8)
    res = mask_to_results(m)
    res[0]["value"]["brushlabels"] = ["Sock"]
    with pytest.raises(UnknownLabelError, match="Sock"):
        results_to_mask(res, 7, 6, "task 3")
    with pytest.raises(ValueError, match="7x6"):
        results_to_mask(mask_to_results(m), 8, 6)


def test_label_config_uses_schema_colours():
    xml = label_config()
    assert '<Label value="Visible" background="#0000ff"/>' in xml
    assert '<Label value="Wearable" background="#ffff00"/>' in xml


def test_agreement_and_majority_merge():
    a = np.zeros((4, 4), np.uint8)
    a[:2] = 1
    b = a.copy()
    b[0, 0] = 2
    c = a.copy()
    c[3, 3] = 2
    assert mean_iou(a, a) == 1.0
    mean, pairs = pairwise_agreement([a, b, c])
    assert len(pairs) == 3 and 0 < mean < 1
    merged = merge_masks([a, b, c])
    np.testing.assert_array_equal(merged, a)  # each odd pixel is outvoted 2:1
    # tie (one vote each): the latest annotation wins
    np.testing.assert_array_equal(merge_masks([a, b]), b)
    assert pairwise_agreement([a]) == (None, [])
