"""Shoe-leg review tasks in Label Studio's format: the labeling config, a task with its pre-annotation, and a
submitted annotation read back into a correction.

A task shows the photo with the curated person as a prediction: the 12 keypoints (KeyPointLabels, percent of
the image), the left and right shoe masks (BrushLabels RLE; the record's one shoe mask split by nearness to
each foot's points) and the choice keep. The reviewer moves points, repaints brushes (by hand, or with the ML
backend's SAM: the smart-only prompt tools), chooses keep or reject and submits. Task data name the person:
the photo's content hash, the person index, the round, and the curated keypoints, so the import knows which
points the reviewer left alone (those keep curation's exact values and scores).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from shoemodel.curation.corrections import DECISIONS, KEEP, Correction, encode_mask
from shoemodel.schemas.keypoints import KEYPOINT_COLORS, KEYPOINT_NAMES, NUM_KEYPOINTS

TO_NAME = "image"
KEYPOINTS = "keypoints"
SHOES = "shoes"
DECISION = "decision"
PROMPT_POINT = "shoe_prompt_point"
PROMPT_BOX = "shoe_prompt_box"
LEFT, RIGHT = "left shoe", "right shoe"
SIDES: dict[str, str] = {LEFT: "left_mask", RIGHT: "right_mask"}  # brush label -> Correction field
SIDE_COLORS = {LEFT: "#ff3030", RIGHT: "#30c030"}
#: The foot keypoints of each side (ankle, big toe, small toe, heel), indices into the 12.
FOOT_POINTS = {LEFT: (4, 6, 7, 8), RIGHT: (5, 9, 10, 11)}
MODEL_VERSION = "curation"
#: A point nearer than this (pixels) to curation's is the one the reviewer left alone: it keeps curation's values.
UNMOVED_PX = 1e-3
REVIEWED_SCORE = 1.0  # the score of a point a reviewer placed or moved


class ReviewTaskError(ValueError):
    """A submitted review annotation cannot become a correction (names the task and what is wrong)."""


def label_config() -> str:
    """The review project's labeling config: the photo, 12 keypoint labels, left / right shoe brushes, the SAM
    prompt tools (smart only: shown when the ML backend is on for interactive pre-annotations) and keep / reject."""
    points = "\n".join(f'    <Label value="{n}" background="#{r:02x}{g:02x}{b:02x}"/>'
                       for n, (r, g, b) in zip(KEYPOINT_NAMES, KEYPOINT_COLORS))
    sides = "\n".join(f'    <Label value="{s}" background="{c}"/>' for s, c in SIDE_COLORS.items())
    smart = 'smart="true" smartOnly="true"'
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="$image" zoom="true" zoomControl="true"/>\n'
        f'  <KeyPointLabels name="{KEYPOINTS}" toName="{TO_NAME}" strokeWidth="2">\n{points}\n  </KeyPointLabels>\n'
        f'  <BrushLabels name="{SHOES}" toName="{TO_NAME}">\n{sides}\n  </BrushLabels>\n'
        f'  <KeyPointLabels name="{PROMPT_POINT}" toName="{TO_NAME}" {smart}>\n{sides}\n  </KeyPointLabels>\n'
        f'  <RectangleLabels name="{PROMPT_BOX}" toName="{TO_NAME}" {smart}>\n{sides}\n  </RectangleLabels>\n'
        f'  <Choices name="{DECISION}" toName="{TO_NAME}" choice="single" showInline="true" required="true">\n'
        + "".join(f'    <Choice value="{d}"/>\n' for d in DECISIONS)
        + "  </Choices>\n</View>\n"
    )


def image_relpath(content_hash: str, suffix: str = ".png") -> str:
    """Where a photo is served from, below the review document root (one file per photo, shared by its persons)."""
    return f"images/{content_hash[:2]}/{content_hash}{suffix}"


def split_sides(mask: np.ndarray, keypoints: np.ndarray) -> dict[str, np.ndarray]:
    """The record's shoe mask split into left and right shoe: each pixel goes to the foot whose points (and the
    lines between them) are nearer. A side without foot points gets nothing; no foot points at all: all left."""
    from shoemodel.curation.mask_qc import foot_samples, nearest

    m = np.asarray(mask, bool)
    k = np.asarray(keypoints, np.float32).reshape(NUM_KEYPOINTS, 3)
    pts = {s: k[list(idx)][k[list(idx), 2] > 0, :2] for s, idx in FOOT_POINTS.items()}
    if not len(pts[RIGHT]):
        return {LEFT: m, RIGHT: np.zeros_like(m)}
    if not len(pts[LEFT]):
        return {LEFT: np.zeros_like(m), RIGHT: m}
    ys, xs = np.nonzero(m)
    xs_f, ys_f = xs.astype(np.float32), ys.astype(np.float32)
    left = nearest(xs_f, ys_f, foot_samples(pts[LEFT])) <= nearest(xs_f, ys_f, foot_samples(pts[RIGHT]))
    out = {LEFT: np.zeros_like(m), RIGHT: np.zeros_like(m)}
    out[LEFT][ys[left], xs[left]] = True
    out[RIGHT][ys[~left], xs[~left]] = True
    return out


def brush_result(mask: np.ndarray, side: str, *, from_name: str = SHOES) -> dict[str, Any]:
    """One brushlabels result painting `mask` (bool) as `side`, in label-studio-sdk's RLE."""
    from label_studio_sdk.converter.brush import mask2rle

    m = np.asarray(mask, bool)
    h, w = m.shape
    return {"id": uuid.uuid4().hex[:10], "type": "brushlabels", "from_name": from_name, "to_name": TO_NAME,
            "original_width": int(w), "original_height": int(h), "image_rotation": 0,
            "value": {"format": "rle", "rle": [int(v) for v in mask2rle(m.astype(np.uint8) * 255)], "brushlabels": [side]}}


def keypoint_results(keypoints: np.ndarray, width: int, height: int) -> list[dict[str, Any]]:
    """The present keypoints as keypointlabels results in percent of the image (missing points are left out)."""
    k = np.asarray(keypoints, np.float64).reshape(NUM_KEYPOINTS, 3)
    return [{"id": uuid.uuid4().hex[:10], "type": "keypointlabels", "from_name": KEYPOINTS, "to_name": TO_NAME,
             "original_width": int(width), "original_height": int(height), "image_rotation": 0,
             "value": {"x": float(x) * 100.0 / width, "y": float(y) * 100.0 / height, "width": 0.6,
                       "keypointlabels": [name]}}
            for name, (x, y, v) in zip(KEYPOINT_NAMES, k) if v > 0]


def decision_result(decision: str = KEEP) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex[:10], "type": "choices", "from_name": DECISION, "to_name": TO_NAME,
            "value": {"choices": [decision]}}


def build_task(person: Mapping[str, Any], url: str, round_no: int, width: int, height: int,
               shoe_mask: np.ndarray | None) -> dict[str, Any]:
    """One review task: the photo URL, who it is, curation's keypoints, and the prediction to correct."""
    k = np.asarray(person["keypoints"], np.float32).reshape(NUM_KEYPOINTS, 3)
    result = keypoint_results(k, width, height)
    if shoe_mask is not None:
        result += [brush_result(m, side) for side, m in split_sides(shoe_mask, k).items() if m.any()]
    result.append(decision_result(KEEP))
    data = {"image": url, "content_hash": person["content_hash"], "person": int(person["person"]), "round": round_no,
            "source_uri": person["source_uri"], "set_id": person["set_id"], "kind": person["kind"],
            "reason": person.get("reason") or "", "priority": person.get("priority"),
            "keypoints": [float(v) for v in k.reshape(-1)],
            "person_box": [float(v) for v in person.get("person_box") or []], "width": int(width), "height": int(height)}
    return {"data": data, "predictions": [{"model_version": MODEL_VERSION, "result": result}]}


def is_review_task(task: Mapping[str, Any]) -> bool:
    """A shoe-leg review task (its data name a person), not a wearable-area round's."""
    data = task.get("data") or {}
    return "person" in data and "content_hash" in data and "record_id" not in data


def prompt_side(context: Mapping[str, Any] | None) -> str | None:
    """The shoe ("left shoe" / "right shoe") an interactive SAM prompt from the review tools is for, else None."""
    for r in (context or {}).get("result") or []:
        value = r.get("value") or {}
        names = value.get("keypointlabels") or value.get("rectanglelabels") or []
        if r.get("from_name") in (PROMPT_POINT, PROMPT_BOX) and names and names[0] in SIDES:
            return names[0]
    return None


def _pixels(value: Mapping[str, Any], w: int, h: int) -> tuple[float, float]:
    # percent back to pixels; a point on the far edge (100 %) is moved just inside (the schema wants x < width)
    x = min(float(value["x"]) * w / 100.0, w - UNMOVED_PX)
    y = min(float(value["y"]) * h / 100.0, h - UNMOVED_PX)
    return max(x, 0.0), max(y, 0.0)


def decode_brush(res: Mapping[str, Any], w: int, h: int, where: str) -> np.ndarray:
    """A brushlabels result's pixels (bool, h x w)."""
    from label_studio_sdk.converter.brush import decode_rle

    rw, rh = int(res.get("original_width", w)), int(res.get("original_height", h))
    if (rw, rh) != (w, h):
        raise ReviewTaskError(f"{where}: brush drawn at {rw}x{rh}, the photo is {w}x{h}")
    value = res.get("value", {})
    if "rle" not in value:
        raise ReviewTaskError(f"{where}: brush result without RLE (format {value.get('format')!r})")
    flat = np.asarray(decode_rle(value["rle"]), dtype=np.uint8)
    if flat.size != w * h * 4:
        raise ReviewTaskError(f"{where}: RLE decodes to {flat.size} values, expected {w * h * 4}")
    return flat.reshape(h, w, 4)[:, :, 3] > 0


def parse_result(result: Iterable[Mapping[str, Any]], data: Mapping[str, Any],
                 where: str) -> tuple[str, list[float] | None, dict[str, np.ndarray]]:
    """(decision, 36 keypoint numbers, painted masks per side) of one submitted annotation.

    Points the reviewer did not move keep curation's exact (x, y, score); moved or added ones get score 1; deleted
    ones become missing (0, 0, 0). Prompt tools (SAM) and unknown tags are ignored: the brushes are the answer."""
    w, h = int(data["width"]), int(data["height"])
    before = np.asarray(data["keypoints"], np.float32).reshape(NUM_KEYPOINTS, 3)
    k = np.zeros((NUM_KEYPOINTS, 3), np.float32)
    seen: set[str] = set()
    masks: dict[str, np.ndarray] = {}
    decision = None
    for res in result:
        kind, name, value = str(res.get("type", "")).lower(), res.get("from_name"), res.get("value") or {}
        if kind == "choices" and name == DECISION:
            choices = value.get("choices") or []
            if len(choices) != 1 or choices[0] not in DECISIONS:
                raise ReviewTaskError(f"{where}: decision {choices} is not one of {DECISIONS}")
            decision = choices[0]
        elif kind == "keypointlabels" and name == KEYPOINTS:
            labels = value.get("keypointlabels") or []
            if len(labels) != 1 or labels[0] not in KEYPOINT_NAMES:
                raise ReviewTaskError(f"{where}: keypoint label {labels} is not one of the 12 shoe-leg keypoints")
            if labels[0] in seen:
                raise ReviewTaskError(f"{where}: two points labelled {labels[0]}")
            seen.add(labels[0])
            i = KEYPOINT_NAMES.index(labels[0])
            x, y = _pixels(value, w, h)
            old = before[i]
            unmoved = old[2] > 0 and abs(x - old[0]) < UNMOVED_PX and abs(y - old[1]) < UNMOVED_PX
            k[i] = old if unmoved else (x, y, REVIEWED_SCORE)
        elif kind == "brushlabels" and name == SHOES:
            labels = value.get("brushlabels") or []
            if len(labels) != 1 or labels[0] not in SIDES:
                raise ReviewTaskError(f"{where}: brush label {labels} is not one of {sorted(SIDES)}")
            m = decode_brush(res, w, h, where)
            masks[labels[0]] = masks[labels[0]] | m if labels[0] in masks else m
    if decision is None:
        raise ReviewTaskError(f"{where}: no keep / reject choice")
    if decision == KEEP:
        if not any(m.any() for m in masks.values()):
            raise ReviewTaskError(f"{where}: kept without a shoe mask (paint the left or right shoe, or reject)")
        return decision, [float(v) for v in k.reshape(-1)], masks
    return decision, None, {}


def annotator(ann: Mapping[str, Any]) -> str:
    name = str(ann.get("created_username") or "").strip().split(",")[0].strip()
    return name or f"user:{ann.get('completed_by')}"


def task_correction(task: Mapping[str, Any]) -> Correction | None:
    """The correction of a finished task (its latest submitted annotation), None while it is pending or was only
    skipped; ReviewTaskError when the annotation is unusable."""
    anns = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not anns:
        return None
    ann = max(anns, key=lambda a: str(a.get("updated_at") or a.get("created_at")))
    data = task["data"]
    where = f"task {task.get('id')} ({data.get('content_hash', '?')[:12]} person {data.get('person')})"
    decision, keypoints, masks = parse_result(ann.get("result") or [], data, where)
    review = {"round": data.get("round"), "task_id": task.get("id"), "annotation_id": ann.get("id"),
              "annotator": annotator(ann), "updated_at": str(ann.get("updated_at") or ann.get("created_at") or ""),
              "kind": data.get("kind")}
    return Correction(content_hash=data["content_hash"], person=int(data["person"]), decision=decision,
                      width=int(data["width"]), height=int(data["height"]), source_uri=data.get("source_uri", ""),
                      keypoints=keypoints,
                      **{SIDES[s]: encode_mask(m) for s, m in masks.items() if m.any()},
                      person_box=list(data.get("person_box") or []) or None, review=review)
