"""The curation stages, in order, as one table: each stage is declared once here and everything reads it.

`run_all`'s order, the join of a part's kept rows (`lineage`), the GPU guard, the provenance thresholds and
the CLI's stage commands all come from `STAGES`. detect, pose and segment are model stages: a model built
from their config section turns the rows the upstream stage kept into one row each, run by the one part
runner (`shoemodel.curation.runner`). ingest and build have their own loops (`run`): ingest has no upstream
parts (its tasks are chunks of the source listing, which its fingerprint hashes, and a duplicate pass
follows), and build writes the shoe-leg set's shards with `store.write_set` rather than a part table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from shoemodel.curation import parts
from shoemodel.curation.backends import help_list
from shoemodel.curation.build import run_build
from shoemodel.curation.config import CurationConfig
from shoemodel.curation.detect import DETECT_SCHEMA, build_detector, detect_rows, detector_info
from shoemodel.curation.ingest import INGEST_SCHEMA, STORAGE_KEYS, run_ingest
from shoemodel.curation.pose import POSE_SCHEMA, build_pose, pose_rows
from shoemodel.curation.provenance import model_info
from shoemodel.curation.segment import SEGMENT_SCHEMA, build_segmenter, segment_rows
from shoemodel.curation.stage_io import stage_dir

#: (rows the upstream stages kept, the model, the stage's config section) -> exactly one output row each
RowFn = Callable[[list[dict[str, Any]], Any, Any], list[dict[str, Any]]]
#: (whole config, set folder, executor) -> StageSummary, or build's Manifest
RunFn = Callable[[CurationConfig, Path, Any], Any]


@dataclass(frozen=True)
class Stage:
    """One curation stage: where its rows come from, what they hold, what makes them, and its settings."""

    name: str
    upstream: str | None  # the stage whose kept rows it reads (None: the raw sources)
    config: str  # its section of CurationConfig / params.yaml `curation:`
    about: str  # one line: what it does (command help, docs)
    _: KW_ONLY
    schema: pa.Schema | None = None  # its part table (None: build writes a set, not parts)
    build_model: Callable[[Any], Any] | None = None  # config section -> model, built once per worker process
    rows: RowFn | None = None
    describe: Callable[[Any], dict[str, Any]] | None = None  # the model's provenance without building it
    gpu: bool = False  # asks Dask for curation.gpu_resources
    run: RunFn | None = None  # its own loop instead of the part runner (ingest, build)


def _ingest(cfg: CurationConfig, out_root: Path, executor: Any) -> Any:
    return run_ingest(stage_dir(cfg.work_dir, "ingest"), cfg.ingest, executor, cfg.progress)


def _build(cfg: CurationConfig, out_root: Path, executor: Any) -> Any:
    return run_build(cfg.work_dir, out_root, cfg.build, thresholds=thresholds(cfg), chain=lineage(stage("build").upstream),
                     executor=executor, progress=cfg.progress, part_size=cfg.ingest.part_size,
                     corrections=cfg.review.corrections, amend=partial(_ledger_counts, cfg.work_dir))


def _ledger_counts(work_dir: str | Path, manifest: Any) -> None:
    """The set's manifest gets the ledger's counts of every stage; a funnel that does not add up refuses the set."""
    from shoemodel.curation.ledger import finish_run

    finish_run(work_dir, stage_names(), upstreams(), manifest)


def upstreams() -> dict[str, str | None]:
    """Stage -> the stage whose kept rows it reads, in run order (the ledger checks its counts with it)."""
    return {s.name: s.upstream for s in STAGES}


STAGES: tuple[Stage, ...] = (
    Stage("ingest", None, "ingest", "Read raw images: hash, dedup, EXIF-upright, refuse bad files (recorded with the reason).",
          schema=INGEST_SCHEMA, run=_ingest),
    Stage("detect", "ingest", "detect",
          f"Person filter (backend {help_list('detect')}): keep images with a person whose lower legs are in view.",
          schema=DETECT_SCHEMA, build_model=build_detector, rows=detect_rows, describe=detector_info, gpu=True),
    Stage("pose", "detect", "pose", f"Whole-body pose (backend {help_list('pose')}) -> the 12 shoe-leg keypoints, with quality filters.",
          schema=POSE_SCHEMA, build_model=build_pose, rows=pose_rows, describe=partial(model_info, "pose"), gpu=True),
    Stage("segment", "pose", "segment",
          f"Shoe masks from foot keypoints (backend {help_list('segment')}) with mask QC.",
          schema=SEGMENT_SCHEMA, build_model=build_segmenter, rows=segment_rows, describe=partial(model_info, "segment"),
          gpu=True),
    Stage("build", "segment", "build", "Write the shoe-leg set shards (raw image, X_m, mask, 12 keypoints, provenance).",
          run=_build),
)
_BY_NAME = {s.name: s for s in STAGES}


def stage_names() -> tuple[str, ...]:
    """Every stage name in run order (`curate run` runs them all)."""
    return tuple(s.name for s in STAGES)


def stage(name: str) -> Stage:
    """The table row of `name`; an unknown name is an error listing the stages."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown curation stage '{name}'; use {stage_names()}")
    return _BY_NAME[name]


def lineage(name: str) -> tuple[str, ...]:
    """The stages whose kept rows make `name`'s rows, from ingest up to `name` itself (a part's join order)."""
    chain: list[str] = []
    current: str | None = name
    while current is not None:
        chain.append(current)
        current = stage(current).upstream
    return tuple(reversed(chain))


def thresholds(cfg: CurationConfig) -> dict[str, Any]:
    """The settings of every stage that filters rows into a part table, for the set's provenance (less the
    speed-only settings and the sources: those the parts came from are recorded from ingest's own summary; nor how
    ingest stores the photos, which changes no record)."""
    out = {s.config: parts.settings_of(dataclasses.asdict(getattr(cfg, s.config))) for s in STAGES if s.schema is not None}
    for key in ("sources", "optional_sources", "part_size", *STORAGE_KEYS):
        out["ingest"].pop(key, None)
    return out
