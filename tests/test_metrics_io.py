"""Metrics files carry numbers only (DVC tables stay readable); the text goes to a sidecar, whole."""

from __future__ import annotations

import json
import math
from pathlib import Path

from shoemodel.metrics_io import numbers_only, write_metrics


def test_numbers_only_keeps_finite_numbers_and_mappings() -> None:
    data = {"set": "shoe_leg", "n": 3, "frac": 0.5, "ok": True, "inf": math.inf, "none": None,
            "by": {"reason": 2, "backend": "yolox"}, "empty": {}, "list": [1, 2]}
    assert numbers_only(data) == {"n": 3, "frac": 0.5, "ok": 1, "by": {"reason": 2}, "empty": {}}


def test_write_metrics_writes_numbers_and_a_strict_json_sidecar(tmp_path: Path) -> None:
    data = {"scale": "4 shoes", "rows": [{"psnr": math.inf}], "fid": 12.5}
    write_metrics(tmp_path / "m" / "table.json", data, info_path=tmp_path / "r" / "info.json")
    assert json.loads((tmp_path / "m" / "table.json").read_text()) == {"fid": 12.5}
    info = json.loads((tmp_path / "r" / "info.json").read_text(), parse_constant=lambda c: 1 / 0)
    assert info == {"scale": "4 shoes", "rows": [{"psnr": "inf"}], "fid": 12.5}
