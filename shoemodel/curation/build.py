"""Build stage: the shoe-leg set (store.write_set shards) from the rows every curation stage kept.

Shard k is made from a fixed group of consecutive parts (records_per_shard / part_size of them), and
the worker that writes it reads those parts itself: the driver sends only part numbers, never image
bytes. Each shard is keyed on the fingerprints of its parts (from their footers), so a no-op build
reads no rows at all, new parts add shards, and a changed part redoes only its shard.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation import parts
from shoemodel.curation.config import BuildConfig
from shoemodel.curation.corrections import (
    ADDED_KEY,
    REJECT,
    REJECTED_REASON,
    added_in_review,
    apply_to_part,
    corrections_by_part,
    digest,
    load_corrections,
)
from shoemodel.curation.persons import expand_persons
from shoemodel.curation.stage_io import kept_rows, stage_dir
from shoemodel.curation.storage import row_image_bytes
from shoemodel.schemas.builder import build_record
from shoemodel.schemas.records import decode_image
from shoemodel.sets.splits import split_for
from shoemodel.store import Dropped, Manifest, write_set


def iter_items(work_dir: str | Path, chain: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Joined rows (image or its reference, keypoints, mask, box, QC) that passed every stage of `chain`, part by part."""
    for index in parts.part_indices(stage_dir(work_dir, chain[-1])):
        yield from part_items(index, str(work_dir), chain)  # one item per kept person of the photo


def part_items(index: int, work_dir: str, chain: Sequence[str],
               corrections: dict[int, list[Any]] | None = None) -> list[dict[str, Any]]:
    """The items of one part, one per kept person of each photo (run on the worker that writes the shard), with
    the part's review corrections applied (`shoemodel.curation.corrections`)."""
    items = [person for item in kept_rows(work_dir, index, chain) for person in expand_persons(item)]
    if corrections and corrections.get(index):
        items = apply_to_part(items, corrections[index], lambda: kept_rows(work_dir, index, chain[:1]))
    return items


def parts_per_shard(records_per_shard: int, part_size: int) -> int:
    """How many consecutive parts make one shard (at least one)."""
    return max(1, records_per_shard // max(1, part_size))


def make_shoe_leg_record(item: dict[str, Any], provenance: dict[str, Any], cfg: BuildConfig) -> dict[str, Any]:
    """One validated-shape shoe-leg record: raw image, X_m (shoe pixels on black), mask, 12 keypoints."""
    if item.get("review", {}).get("decision") == REJECT:
        raise Dropped(REJECTED_REASON)
    data = row_image_bytes(item)  # a referenced photo is read and hash-checked here (a changed one fails this record)
    image = decode_image(data, "RGB", source=item["source_uri"])
    mask = decode_image(item["shoe_mask"], "L", "shoe_mask", item["source_uri"])
    shoe = np.where(mask[..., None] > 127, image, 0).astype(np.uint8)
    prov = {**provenance, "person_box": [round(float(v), 2) for v in item["person_box"]], "mask_qc": json.loads(item["mask_qc"] or "[]"),
            **({"quality": item["quality"]} if item.get("quality") is not None else {}),
            **({"refined": item["refined"]} if item.get("refined") else {})}
    if "review" in item:
        prov["review"] = item["review"]
    # the ingest hash is of the file as read; the stored bytes differ when ingest turned a photo upright
    return build_record("shoe_leg", id=item["content_hash"][:24] + item.get("id_suffix", ""), source_uri=item["source_uri"],
                        content_hash=item["content_hash"], image=data, shoe_image=shoe,
                        shoe_mask=item["shoe_mask"], keypoints=item["keypoints"],
                        split=split_for(item["content_hash"], cfg.val_fraction, cfg.test_fraction), provenance=prov)


def _key(item: dict[str, Any]) -> str:
    return item["source_uri"] + item.get("id_suffix", "")


def stage_provenance(work_dir: str | Path, chain: Sequence[str]) -> dict[str, Any]:
    """Models, versions and thresholds of every stage, from their summaries and fingerprints."""
    prov: dict[str, Any] = {"made_by": "shoemodel.curation"}
    for stage in chain:
        p = stage_dir(work_dir, stage) / parts.SUMMARY
        if p.exists():
            s = json.loads(p.read_text())
            prov[stage] = {**s.get("extra", {}), "fingerprint": parts.read_fingerprint(stage_dir(work_dir, stage))}
    prov["mask_source"] = prov.get("segment", {}).get("backend", "?")
    return prov


def run_build(work_dir: str | Path, out_root: str | Path, cfg: BuildConfig, *, thresholds: dict[str, Any],
              chain: Sequence[str], executor: Any = None, progress: bool = True, part_size: int = 64,
              corrections: str | Path | None = None, amend: Callable[[Manifest], None] | None = None) -> Manifest:
    """Write the shoe-leg set to out_root from the rows every stage of `chain` kept (resumable shards, provenance),
    with the review corrections table at `corrections` applied (a shard is redone when its corrections change).

    The sources in the set's provenance are those ingest actually read (its summary), not the params file's;
    they go in the manifest only, so adding a source does not rewrite the records already built.
    """
    table = load_corrections(corrections)
    prov = {**stage_provenance(work_dir, chain), "thresholds": thresholds}
    sources = prov.get("ingest", {}).pop("sources", None)
    fn = partial(make_shoe_leg_record, provenance=prov, cfg=cfg)
    record_fp = parts.fingerprint_of([prov, parts.settings_of(cfg)])
    last = stage_dir(work_dir, chain[-1])
    indices = parts.part_indices(last)
    part_fps = {i: parts.part_fingerprint(last, i, check_ledger=False) for i in indices}  # its stage checked them
    by_part = corrections_by_part(work_dir, indices, table)
    for i, found in by_part.items():  # only parts with corrections change their key: the rest keep their shards
        part_fps[i] = parts.fingerprint_of([part_fps[i], "review", digest(found)])
    # a part without a readable fingerprint was never finished: its shard is redone (and fails loudly if unreadable)
    chunk_fp = lambda _k, chunk: parts.fingerprint_of([record_fp, [(i, part_fps[i]) for i in chunk]])  # noqa: E731
    prov_set = {}
    if table:  # corrections of photos no longer among curation's (removed from the sources) are counted, not applied
        matched = sum(len(found) for found in by_part.values())
        # (no path: a set built in another folder must hash the same)
        prov_set = {"review": {"entries": len(table), "sha256": digest(table.values()),
                               "photo_not_found": len(table) - matched,
                               ADDED_KEY: added_in_review(work_dir, by_part)}}
    fp = {"build": parts.settings_of(cfg), "set": "shoe_leg", "keyed": "per-shard"}
    return write_set(out_root, "shoe_leg", indices, fn, records_per_shard=cfg.records_per_shard,
                     provenance={**prov, "sources": sources, **prov_set}, executor=executor, item_key=_key, fingerprint=fp,
                     progress=progress, desc="build", chunk_fingerprint=chunk_fp,
                     expand=partial(part_items, work_dir=str(work_dir), chain=tuple(chain), corrections=by_part or None),
                     chunk_size=parts_per_shard(cfg.records_per_shard, part_size), amend=amend)
