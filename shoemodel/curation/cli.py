"""Command-line entry points of the curation area; `register` hooks them into the `shoemodel` command."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="Raw photos -> shoe-leg set: ingest, person filter, pose, SAM shoe masks, build.")

DEFAULT_OUT = "data/curation/shoe_leg"
_PARAMS = typer.Option("params.yaml", "--params", help="params.yaml whose `curation:` section configures the stages.")
_EXEC = typer.Option(None, "--executor", help="inline | local (a LocalCluster) | address (an existing Dask scheduler).")
_ADDR = typer.Option(None, "--address", help="Dask scheduler address (or env SHOEMODEL_DASK_SCHEDULER).")
_WORKERS = typer.Option(None, "--workers", help="LocalCluster worker processes.")
_WORK = typer.Option(None, "--work-dir", help="Folder of the intermediate stage tables (default: curation.work_dir).")
_OUT = typer.Option(DEFAULT_OUT, "--out", help="Folder of the shoe-leg set written by `build`.")
_QUIET = typer.Option(False, "--quiet", help="No progress bars.")
_METRICS = typer.Option(None, "--metrics", help="Also write the per-stage summary JSON here (for DVC metrics).")


def register(root: typer.Typer) -> None:
    """Add this area's command group (and any top-level commands) to the root CLI."""
    root.add_typer(app, name="curate")


def _config(params: str, executor: str | None, address: str | None, workers: int | None, work_dir: str | None,
            quiet: bool, sources: list[str] | None = None):
    from shoemodel.curation.config import load_curation_config

    cfg = load_curation_config(params)
    if executor:
        cfg.executor.kind = executor
    if address:
        cfg.executor.address = address
        cfg.executor.kind = executor or "address"
    if workers:
        cfg.executor.n_workers = workers
    if work_dir:
        cfg.work_dir = work_dir
    if sources:
        cfg.ingest.sources, cfg.ingest.optional_sources = list(sources), []
    cfg.progress = not quiet
    return cfg


def _run(stages: tuple[str, ...], params: str, executor: str | None, address: str | None, workers: int | None,
         work_dir: str | None, out: str, quiet: bool, metrics: Path | None, sources: list[str] | None = None) -> None:
    import logging

    from shoemodel.curation.pipeline import executor_config, format_summary, run_all
    from shoemodel.parallel import executor_from_config

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = _config(params, executor, address, workers, work_dir, quiet, sources)
    with executor_from_config(executor_config(cfg)) as ex:
        summary = run_all(cfg, out, ex, stages)
    typer.echo(format_summary(summary))
    if metrics:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.write_text(json.dumps(summary, indent=2) + "\n")


@app.command()
def ingest(source: list[str] | None = typer.Argument(None, help="Folders, .txt lists, .parquet manifests or files/URIs (default: curation.ingest.sources)."),
           params: str = _PARAMS, executor: str | None = _EXEC, address: str | None = _ADDR,
           workers: int | None = _WORKERS, work_dir: str | None = _WORK, quiet: bool = _QUIET, metrics: Path | None = _METRICS) -> None:
    """Read raw images: hash, dedup, EXIF-upright, refuse bad files (recorded with the reason)."""
    _run(("ingest",), params, executor, address, workers, work_dir, DEFAULT_OUT, quiet, metrics, source)


@app.command()
def detect(params: str = _PARAMS, executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
           work_dir: str | None = _WORK, quiet: bool = _QUIET, metrics: Path | None = _METRICS) -> None:
    """Person filter (YOLOX ONNX / ultralytics / full_frame): keep images with a person whose lower legs are in view."""
    _run(("detect",), params, executor, address, workers, work_dir, DEFAULT_OUT, quiet, metrics)


@app.command()
def pose(params: str = _PARAMS, executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
         work_dir: str | None = _WORK, quiet: bool = _QUIET, metrics: Path | None = _METRICS) -> None:
    """Whole-body pose (MediaPipe / ViTPose / mmpose) -> the 12 shoe-leg keypoints, with quality filters."""
    _run(("pose",), params, executor, address, workers, work_dir, DEFAULT_OUT, quiet, metrics)


@app.command()
def segment(params: str = _PARAMS, executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
            work_dir: str | None = _WORK, quiet: bool = _QUIET, metrics: Path | None = _METRICS) -> None:
    """Shoe masks from foot keypoints (SAM, transformers SAM, or the labelled GrabCut fallback) with mask QC."""
    _run(("segment",), params, executor, address, workers, work_dir, DEFAULT_OUT, quiet, metrics)


@app.command()
def build(params: str = _PARAMS, executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
          work_dir: str | None = _WORK, out: str = _OUT, quiet: bool = _QUIET, metrics: Path | None = _METRICS) -> None:
    """Write the shoe-leg set shards (raw image, X_m, mask, 12 keypoints, provenance)."""
    _run(("build",), params, executor, address, workers, work_dir, out, quiet, metrics)


@app.command()
def run(source: list[str] | None = typer.Argument(None, help="Sources to ingest (default: curation.ingest.sources)."),
        params: str = _PARAMS, executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
        work_dir: str | None = _WORK, out: str = _OUT, quiet: bool = _QUIET, metrics: Path | None = _METRICS) -> None:
    """All stages in order (each resumes where a crashed run stopped)."""
    _run(("ingest", "detect", "pose", "segment", "build"), params, executor, address, workers, work_dir, out, quiet, metrics, source)
