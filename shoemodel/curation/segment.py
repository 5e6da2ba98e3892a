"""Segment stage: shoe masks per foot, QC, and the union mask.

Backends (listed in shoemodel.curation.backends) share `segment(image, prompts) -> [bool (H, W) per foot]`, computing the image embedding
once per image. A person keeps the feet whose masks pass QC; too few feet -> that person is dropped with
the reason. A row holds every person of the pose row: `shoe_masks` one PNG per person (null when dropped),
`shoe_mask` the first kept person's (the single-person view), `mask_qc` per person with per-foot numbers.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from shoemodel.curation import backends, parts
from shoemodel.curation.config import SegmentConfig
from shoemodel.curation.mask_qc import check_mask
from shoemodel.curation.prefetch import failure_reason
from shoemodel.curation.prompts import FootPrompt, foot_prompts
from shoemodel.schemas.records import encode_png

SEGMENT_SCHEMA = pa.schema(parts.BASE_FIELDS + [
    pa.field("shoe_mask", pa.binary()),  # PNG, L, 0/255: the first kept person
    pa.field("shoe_masks", pa.list_(pa.binary())),  # PNG per pose person, null where its masks failed QC
    pa.field("mask_qc", pa.string()),  # JSON: [{person, ok, reason, feet: [per-foot numbers and verdicts]}]
])


class ShoeSegmenter(Protocol):
    name: str
    version: str

    def segment(self, image: np.ndarray, prompts: list[FootPrompt]) -> list[np.ndarray]: ...


def build_segmenter(cfg: SegmentConfig) -> ShoeSegmenter:
    """The segmenter named by the config (shoemodel.curation.backends); weights load by path."""
    return backends.build("segment", cfg)


def segment_image(image: np.ndarray, keypoints: np.ndarray, segmenter: ShoeSegmenter,
                  cfg: SegmentConfig, person_box: np.ndarray | None = None) -> tuple[np.ndarray | None, str | None, list[dict]]:
    """Union shoe mask of the feet that pass QC, or the reason the image fails; plus per-foot QC."""
    h, w = image.shape[:2]
    prompts = foot_prompts(keypoints, w, h, cfg.box_padding, cfg.negative_on_calf, person_box)
    if not prompts:
        return None, "no foot prompt", []
    return masks_to_result((h, w), prompts, segmenter.segment(image, prompts), cfg)


def masks_to_result(shape: tuple[int, int], prompts: list[FootPrompt], masks: list[np.ndarray],
                    cfg: SegmentConfig) -> tuple[np.ndarray | None, str | None, list[dict]]:
    """QC of each foot's mask; the union of those that pass, or the reason too few did."""
    union, reason, qc, _ = person_result(shape, prompts, masks, cfg)
    return union, reason, qc


def person_result(shape: tuple[int, int], prompts: list[FootPrompt], masks: list[np.ndarray], cfg: SegmentConfig,
                  keypoints: np.ndarray | None = None, image: np.ndarray | None = None,
                  extras: list[dict] | None = None) -> tuple[np.ndarray | None, str | None, list[dict], dict]:
    """QC of each foot's mask, the union of those that pass (or why too few did), per-foot QC with each foot's
    quality and its parts, and the person's extras: `quality` (mean over kept feet; below min_quality the person is
    dropped, or with quality_floor "foot" a foot below is dropped when its pair is above), `keypoints_refined` (36 floats,
    when refine_below > 0 moved a point) with what moved. With `image` and prior_check, the shoe prior is run on the
    person's feet for the agreement parts; `extras` carries per-foot numbers a backend measured (SAM's scores)."""
    from shoemodel.curation import mask_quality as Q

    union = np.zeros(shape, bool)
    qc, reasons, scores = [], [], []
    masks_ok: list[tuple[float, np.ndarray, FootPrompt]] = []  # (quality, mask, prompt) of the feet that pass QC
    priors = _prior_feet(image, prompts, cfg) if image is not None and cfg.prior_check else [(None, None)] * len(prompts)
    kept: dict[str, tuple[np.ndarray, FootPrompt]] = {}
    for n, (p, m) in enumerate(zip(prompts, masks)):
        m, reason, stats = check_mask(m, p, cfg)
        measured = (extras or [{}] * len(prompts))[n]
        entry = {"side": p.side, **({"mask_source": measured["source"]} if measured.get("source") else {}), **stats}
        if reason is None:
            q, qparts = Q.foot_quality(m, p, stats, *priors[n], sam=measured)
            entry.update(quality=q, quality_parts=qparts)
            masks_ok.append((q, m, p))
        else:
            reasons.append(reason)
        qc.append({**entry, "ok": reason is None, **({"reason": reason} if reason else {})})
    extra: dict = {}
    if len(masks_ok) < cfg.min_feet:
        return None, f"mask qc: {reasons[0] if reasons else 'too few feet'}", qc, extra
    sure = [t for t in masks_ok if t[0] >= cfg.min_quality] if cfg.quality_floor == "foot" else []
    if sure and len(sure) >= cfg.min_feet:  # quality_floor foot: a foot below goes, its pair stays
        for f in qc:
            if f.get("ok") and f["quality"] < cfg.min_quality:
                f.update(ok=False, reason=f"quality: {f['quality']:.3f} < min_quality {cfg.min_quality}")
        masks_ok = sure
    for q, m, p in masks_ok:
        scores.append(q)
        kept[p.side] = (m, p)
        union |= m
    extra["quality"] = round(float(np.mean(scores)), 4) if scores else 0.0  # no kept foot (min_feet 0): nothing to trust
    if extra["quality"] < cfg.min_quality:
        parts = {f["side"]: f["quality_parts"] for f in qc if "quality_parts" in f}
        return None, f"quality: {extra['quality']:.3f} < min_quality {cfg.min_quality} ({json.dumps(parts)})", qc, extra
    if keypoints is not None and cfg.refine_below > 0:
        k, moved = np.asarray(keypoints, np.float32).reshape(12, 3), []
        for side, (m, p) in kept.items():
            k, what = Q.refine_points(k, side, m, p, cfg.refine_below)
            moved += [f"{side}_{w}" for w in what]
        if moved:
            extra.update(keypoints_refined=[round(float(v), 2) for v in k.ravel()], refined=moved)
    return union, None, qc, extra


def _prior_feet(image: np.ndarray, prompts: list[FootPrompt], cfg: SegmentConfig) -> list[tuple[Any, Any]]:
    """(prior mask, prior probability) per foot from the checking prior (prior_check_weights, '' = the shipped checker)
    on its check views (the agreement parts of the quality: any backend's mask against the checker, the prior's own
    mask against the checker, which has also seen legs without shoes, on other crops)."""
    from shoemodel.curation.segment_prior import foot_mask, load_prior, parse_views, prior_maps
    from shoemodel.models.shoe_prior.predictor import SHIPPED_CHECK

    views = parse_views(cfg.prior_check_views, "curation.segment.prior_check_views")
    maps = prior_maps(load_prior(str(cfg.prior_check_weights or SHIPPED_CHECK)), image, prompts, views)
    out = []
    for pm, p in zip(maps, prompts):
        if pm is None:
            out.append((None, None))
            continue
        full = pm.full(image.shape[:2])
        out.append((foot_mask(pm, p, image.shape[:2], cfg.prior_threshold, cfg.prior_reach), full))
    return out


def segment_rows(rows: list[dict[str, Any]], segmenter: ShoeSegmenter, cfg: SegmentConfig) -> list[dict[str, Any]]:
    """One output row per pose-kept image, in batches decoded (and SAM-preprocessed) ahead in threads."""
    from shoemodel.curation.prefetch import map_batches

    prepare = getattr(segmenter, "prepare", None)
    return map_batches(rows, cfg.batch_size, cfg.loader_threads,
                       lambda b: segment_decoded(b.rows, b.images, segmenter, cfg, b.prepared),
                       prepare=_prepare_with(prepare) if prepare else None)


def _prepare_with(prepare: Any) -> Any:
    def run(images: list[Any]) -> Any:  # only when every image decoded (else segment_batch prepares its subset)
        return prepare(images) if all(isinstance(im, np.ndarray) for im in images) else None
    return run


def segment_decoded(batch: list[dict[str, Any]], images: list[Any], segmenter: ShoeSegmenter, cfg: SegmentConfig,
                    prepared: Any = None) -> list[dict[str, Any]]:
    """One decoded batch: foot prompts of every person of every image, masks for all of them (one SAM encoder
    call for the batch, one embedding per image), QC per person, one row per image."""
    failed: list[dict[str, Any] | None] = [None] * len(batch)
    persons: list[list[tuple[int, list[FootPrompt]]]] = [[] for _ in batch]  # per image: (person index, its prompts)
    for i, (r, im) in enumerate(zip(batch, images)):
        if isinstance(im, Exception):
            failed[i] = parts.row(r["source_uri"], r["content_hash"], parts.FAILED, failure_reason(im, detail=True))
            continue
        try:
            ks = np.asarray(r["keypoints"], np.float32).reshape(-1, 12, 3)
            boxes = np.asarray(r.get("person_box") or [], np.float32).reshape(-1, 5)
            index = list(r.get("person_index") or range(len(ks)))
            for j, k in enumerate(ks):
                box = boxes[j] if j < len(boxes) else None
                persons[i].append((int(index[j]), foot_prompts(k, im.shape[1], im.shape[0], cfg.box_padding,
                                                               cfg.negative_on_calf, box), k))
        except Exception as exc:  # noqa: BLE001
            failed[i] = exc_row(r, exc)
    todo = [i for i in range(len(batch)) if failed[i] is None and any(p for _, p, _ in persons[i])]
    flat = {i: [f for _, p, _ in persons[i] for f in p] for i in todo}  # all persons' feet: one embedding per image
    masks = dict(zip(todo, _masks(segmenter, [images[i] for i in todo], [flat[i] for i in todo],
                                  prepared if len(todo) == len(batch) else None)))
    out = []
    for i, r in enumerate(batch):
        if failed[i] is not None:
            out.append(failed[i])
            continue
        try:
            got = masks.get(i, [])
            if isinstance(got, Exception):
                raise got
            results, start = [], 0
            scored = getattr(segmenter, "mask_scores", None)  # SAM: id(mask) -> its predicted IoU and stability
            for person, prompts, k in persons[i]:
                if not prompts:
                    results.append((person, None, "no foot prompt", [], {}))
                    continue
                feet = got[start: start + len(prompts)]
                res = person_result(images[i].shape[:2], prompts, feet, cfg, k, images[i],
                                    [scored.pop(id(m), {}) for m in feet] if scored is not None else None)
                start += len(prompts)
                results.append((person, *res))
            out.append(_row(r, results))
        except Exception as exc:  # noqa: BLE001
            out.append(exc_row(r, exc))
    return out


def _masks(segmenter: ShoeSegmenter, images: list[np.ndarray], prompts: list[list[FootPrompt]], prepared: Any) -> list[Any]:
    """Masks per image: the segmenter's batched call when it has one (a batch error retries per image)."""
    batch_fn = getattr(segmenter, "segment_batch", None)
    if batch_fn is not None and images:
        try:
            return batch_fn(images, prompts, prepared)
        except Exception:  # noqa: BLE001 - one image at a time below, so one bad image fails alone
            pass
    out: list[Any] = []
    for im, p in zip(images, prompts):
        try:
            out.append(segmenter.segment(im, p))
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    return out


def exc_row(r: dict[str, Any], exc: Exception, what: str = "segment") -> dict[str, Any]:
    """The failed row of an image whose decode or segmentation raised."""
    return parts.row(r["source_uri"], r["content_hash"], parts.FAILED, f"{what}: {type(exc).__name__}: {exc}")


def _row(r: dict[str, Any], results: list[tuple[int, np.ndarray | None, str | None, list[dict], dict]]) -> dict[str, Any]:
    """The row of an image from its persons' results (person index, union mask or None, reason, per-foot QC,
    the person's quality and refined keypoints)."""
    masks = [None if mask is None else encode_png(mask.astype(np.uint8) * 255) for _, mask, _, _, _ in results]
    qc = [{"person": person, "ok": reason is None, **({"reason": reason} if reason else {}), **extra, "feet": feet}
          for person, _, reason, feet, extra in results]
    kept = [m for m in masks if m is not None]
    if not kept:
        return parts.row(r["source_uri"], r["content_hash"], parts.DROPPED, qc[0].get("reason") if qc else "no person",
                         mask_qc=json.dumps(qc))
    return parts.row(r["source_uri"], r["content_hash"], parts.KEPT, None,
                     shoe_mask=kept[0], shoe_masks=masks, mask_qc=json.dumps(qc))
