"""The measured annotation loop on a real Label Studio server: three rounds, WD retrained after each, and
wearable IoU on the fixed test split rising round over round (benchmarks/annotation/loop.py)."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.server, pytest.mark.slow]
sys.path.insert(0, str(REPO_ROOT / "benchmarks" / "annotation"))


def test_three_rounds_raise_wearable_iou(tmp_path, label_studio):
    pytest.importorskip("transformers")
    import loop  # benchmarks/annotation/loop.py: the benchmark's own code, at its default settings

    url, token, files_root, _ = label_studio
    result = loop.run_loop(url, token, tmp_path, files_root, loop.LoopSettings(project_title="loop test"))
    rounds = result["rounds"]
    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert [r["n_labelled"] for r in rounds] == [8, 24, 68]  # every submitted annotation came back through the import
    assert all(r["submitted"] == r["n_new"] for r in rounds)
    assert rounds[0]["preannotation_model"] == "shoe-mask" and rounds[0]["selection"] == "random"
    # round N+1 was pre-annotated and chosen by the WD trained on rounds <= N
    for prev, cur in zip(rounds, rounds[1:]):
        assert cur["preannotation_model"] == prev["trained_model"] and cur["selection"] == "uncertainty"
    assert loop.rises(result), [result["untrained"]] + rounds
    assert result["closed_rounds"] == [1, 2, 3]
