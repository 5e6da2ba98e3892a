"""One photo, several persons: a joined curation row (pose/segment hold P persons) -> one item per kept person.

Stage rows stay one per image (the part runner's rule); `build` turns each person whose masks passed QC
into its own record. The record id is the photo's content hash, plus `-p<k>` for every person but the
detect stage's first box (k = the box's index there), so ids are stable across reruns and a one-person
photo keeps the id it always had.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def person_suffix(index: int) -> str:
    """The id suffix of the person at detect-box index `index` ('' for the first)."""
    return "" if index == 0 else f"-p{index}"


def expand_persons(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The single-person items of a joined row: keypoints (36; the refined ones when the segment stage moved heel or
    toe onto the mask), person_box (5), shoe_mask, mask_qc (feet), quality (score, moved points) each."""
    ks = np.asarray(item["keypoints"], np.float32).reshape(-1, 36)
    if "shoe_masks" not in item or item.get("shoe_masks") is None:  # a one-person row of the older shape
        return [{**item, "id_suffix": ""}]
    boxes = np.asarray(item["person_box"], np.float32).reshape(-1, 5)
    index = list(item.get("person_index") or range(len(ks)))
    qc = json.loads(item.get("mask_qc") or "[]")
    out = []
    for j, mask in enumerate(item["shoe_masks"]):
        if mask is None:
            continue
        person = qc[j] if j < len(qc) and isinstance(qc[j], dict) else {}
        feet = person.get("feet", [])
        refined = person.get("keypoints_refined")  # heel/toe moved onto the mask where the pose was unsure
        out.append({**item, "keypoints": refined if refined is not None else ks[j].tolist(), "person_box": boxes[j].tolist(),
                    "shoe_mask": mask, "mask_qc": json.dumps(feet), "person_index": int(index[j]),
                    "id_suffix": person_suffix(int(index[j])),
                    "quality": person.get("quality"), "refined": person.get("refined")})
    return out
