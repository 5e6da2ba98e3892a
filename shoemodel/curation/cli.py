"""Command-line entry points of the curation area; `register` hooks them into the `shoemodel` command.

Params: the `curation:` section. `--out X` also moves the intermediate stage tables, to `X.work`, unless
`--work-dir` (or `--set curation.work_dir=...`) says where they go; so one flag puts all of a run's files
in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail, group_callback
from shoemodel.curation.backends import STAGES as BACKEND_STAGES
from shoemodel.curation.backends import help_list
from shoemodel.curation.stages import STAGES, stage_names

app = typer.Typer(no_args_is_help=True, callback=group_callback, help="Raw photos -> shoe-leg set: " + ", ".join(s.name for s in STAGES) + ".\n\nBackends: " + "; ".join(f"{s}: {help_list(s)}" for s in BACKEND_STAGES) + " (curation.<stage>.backend).")

WORK_SUFFIX = ".work"
_EXEC = typer.Option(None, "--executor", help="inline | local (a LocalCluster) | address (an existing Dask scheduler) (params: curation.executor.kind).")
_ADDR = typer.Option(None, "--address", help="Dask scheduler address; implies --executor address (params: curation.executor.address, or env SHOEMODEL_DASK_SCHEDULER).")
_WORKERS = typer.Option(None, "--workers", help="LocalCluster worker processes (params: curation.executor.n_workers).")
_WORK = typer.Option(None, "--work-dir", help="Folder of the intermediate stage tables (params: curation.work_dir; with --out X: X.work).")
_OUT = typer.Option(None, "--out", help=f"Folder of the shoe-leg set written by `build` (params: curation.out); the stage tables then go to OUT{WORK_SUFFIX} unless --work-dir is given.")
_QUIET = typer.Option(False, "--quiet", help="No progress bars (curation.progress=false): only the stage table. The libraries' own messages are in "
                                        "the log unless `shoemodel --verbose`.")
_METRICS = typer.Option(None, "--metrics", help="Also write the per-stage summary JSON here (for DVC metrics).")


def register(root: typer.Typer) -> None:
    """Add this area's command group (and any top-level commands) to the root CLI."""
    from shoemodel.curation.review_cli import app as review_app

    app.add_typer(review_app, name="review")  # curate review [import]: Label Studio review rounds
    root.add_typer(app, name="curate")


def _config(params: Path | None, sets: list[str] | None, *, executor: str | None = None, address: str | None = None,
            workers: int | None = None, work_dir: Path | None = None, out: Path | None = None, quiet: bool = False,
            sources: list[str] | None = None):

    flags = {"executor.kind": executor, "executor.address": address, "executor.n_workers": workers,
             "work_dir": work_dir, "out": out, "progress": False if quiet else None}
    if sources:
        flags.update({"ingest.sources": list(sources), "ingest.optional_sources": []})
    implied = {"executor.kind": "address"} if address else {}
    if out is not None:
        implied["work_dir"] = f"{out}{WORK_SUFFIX}"
    return command_config(params, sets, "curation").load("curation", flags, implied)


def _check_sources(sources: list[str], optional: list[str]) -> None:
    """A required source that does not exist is an error (optional_sources are skipped with a note instead)."""
    if not sources and not optional:
        fail("no curation sources: give folders/files on the command line or set curation.ingest.sources")
    for s in sources:
        if "://" in s and not s.startswith("file://"):
            continue
        if not Path(s.removeprefix("file://")).exists():
            fail(f"curation source not found: {s}")


def _run(stages: tuple[str, ...], *, params: Path | None, sets: list[str] | None, executor: str | None = None,
         address: str | None = None, workers: int | None = None, work_dir: Path | None = None, out: Path | None = None,
         quiet: bool = False, metrics: Path | None = None, sources: list[str] | None = None) -> None:
    import logging

    from shoemodel.curation.pipeline import check_models, executor_config, format_summary, run_all
    from shoemodel.parallel import executor_from_config

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from shoemodel.curation.corrections import CorrectionsError
    from shoemodel.curation.ledger import LedgerMismatch
    from shoemodel.curation.sources import SourceNotFound
    from shoemodel.store.atomic import user_os_error
    from shoemodel.store.lock import FolderLocked, folder_locks

    cfg = _config(params, sets, executor=executor, address=address, workers=workers, work_dir=work_dir, out=out,
                  quiet=quiet, sources=sources)
    if "ingest" in stages:
        _check_sources(cfg.ingest.sources, cfg.ingest.optional_sources)
    try:
        check_models(cfg, stages)  # missing weights: one line before any stage runs
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    folders = [cfg.work_dir] + ([cfg.out] if "build" in stages else [])
    try:
        with folder_locks(*folders, command="shoemodel curate " + " ".join(stages)), \
                executor_from_config(executor_config(cfg)) as ex:
            summary = run_all(cfg, cfg.out, ex, stages)
    except (FolderLocked, SourceNotFound, LedgerMismatch, CorrectionsError, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, SourceNotFound) and not user_os_error(exc):
            raise
        fail(str(exc))
    typer.echo(format_summary(summary))
    if metrics:  # numbers only; each stage's backend, library and weights are in its summary.json
        from shoemodel.metrics_io import write_metrics

        write_metrics(metrics, summary)


_SOURCES = "Folders, .txt lists, .parquet manifests or files/URIs (params: curation.ingest.sources; given here, optional_sources are not read)."


def _ingest_command(source: list[str] | None = typer.Argument(None, help=_SOURCES),
                    executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
                    work_dir: Path | None = _WORK, quiet: bool = _QUIET, metrics: Path | None = _METRICS,
                    params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    _run(("ingest",), params=params, sets=set_, executor=executor, address=address, workers=workers, work_dir=work_dir,
         quiet=quiet, metrics=metrics, sources=source)


def _model_stage_command(name: str) -> Callable[..., None]:
    """The command of a model stage (detect, pose, segment): it reads the upstream tables, so no sources or --out."""

    def command(executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
                work_dir: Path | None = _WORK, quiet: bool = _QUIET, metrics: Path | None = _METRICS,
                params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
        _run((name,), params=params, sets=set_, executor=executor, address=address, workers=workers, work_dir=work_dir,
             quiet=quiet, metrics=metrics)

    return command


def _build_command(executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
                   work_dir: Path | None = _WORK, out: Path | None = _OUT, quiet: bool = _QUIET,
                   metrics: Path | None = _METRICS, params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    _run(("build",), params=params, sets=set_, executor=executor, address=address, workers=workers, work_dir=work_dir,
         out=out, quiet=quiet, metrics=metrics)


def _run_command(source: list[str] | None = typer.Argument(None, help=_SOURCES),
                 executor: str | None = _EXEC, address: str | None = _ADDR, workers: int | None = _WORKERS,
                 work_dir: Path | None = _WORK, out: Path | None = _OUT, quiet: bool = _QUIET,
                 metrics: Path | None = _METRICS, params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    _run(stage_names(), params=params, sets=set_, executor=executor, address=address, workers=workers,
         work_dir=work_dir, out=out, quiet=quiet, metrics=metrics, sources=source)


# One command per stage of the table, in run order: the stage that reads raw sources takes them as arguments,
# the stage that writes the set takes --out, the model stages take neither.
for _stage in STAGES:
    if _stage.upstream is None:
        _fn = _ingest_command
    elif _stage.schema is None:
        _fn = _build_command
    else:
        _fn = _model_stage_command(_stage.name)
    app.command(_stage.name, help=_stage.about)(_fn)
app.command("run", help="All stages in order (" + " -> ".join(stage_names()) + "); each resumes where a crashed run stopped.")(_run_command)


def _work_of(out: Path | None, params: Path | None, set_: list[str] | None) -> tuple[Path, Path]:
    """(the run's --out folder or work folder as given, its work folder with the stage tables)."""
    if out is None:
        out = Path(_config(params, set_, quiet=True).work_dir)
    work = out if (out / "ingest").is_dir() else Path(f"{out}{WORK_SUFFIX}")
    if not (work / "ingest").is_dir():
        fail(f"no curation stage tables at {out} or {work} (run `shoemodel curate run --out {out}` first)")
    return out, work


@app.command("report", help="One self-contained HTML page of a run: funnel, counts and thumbnails per reason, quality, failed files.")
def _report_command(out: Path | None = typer.Argument(None, help=f"The run's --out folder (its tables are in OUT{WORK_SUFFIX}) or a work folder (default: the params' curation.work_dir)."),
                    html: Path | None = typer.Option(None, "--html", help="Where to write the page (default: OUT.report.html)."),
                    per_reason: int = typer.Option(6, "--per-reason", help="Thumbnails per reason."),
                    worst: int = typer.Option(24, "--worst", help="How many of the lowest-quality kept records to show."),
                    params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    from shoemodel.curation.report_html import write_report

    out, work = _work_of(out, params, set_)
    if per_reason < 0 or worst < 0:
        fail("--per-reason and --worst must be at least 0")
    target = html or Path(f"{out}.report.html")
    set_root = out if (out / "manifest.json").exists() else None
    try:
        data = write_report(work, target, set_root, per_reason=per_reason, worst=worst)
    except (OSError, ValueError) as exc:
        fail(f"curate report: {exc}")
    typer.echo(f"wrote {target}: {sum(len(v) for v in data.examples.values())} examples over {len(data.examples)} "
               f"reasons, {len(data.worst)} worst kept, {data.failed_total} failed")


@app.command("show", help="Contact sheet PNG of kept and dropped photos (keypoints, skeleton, mask outline, drop reason).")
def _show_command(out: Path | None = typer.Argument(None, help=f"The run's --out folder (its tables are in OUT{WORK_SUFFIX}) or a work folder (default: the params' curation.work_dir)."),
                  n: int = typer.Option(32, "--n", help="Photos on the sheet (half kept, half dropped when both exist)."),
                  png: Path | None = typer.Option(None, "--png", help="Where to write the sheet (default: OUT.show.png)."),
                  columns: int = typer.Option(8, "--columns", help="Tiles per row."),
                  params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    from shoemodel.curation.show import contact_sheet

    out, work = _work_of(out, params, set_)
    if n < 1:
        fail("--n must be at least 1")
    target = png or Path(f"{out}.show.png")
    try:
        counts = contact_sheet(work, target, n, columns)
    except (OSError, ValueError) as exc:
        fail(f"curate show: {exc}")
    typer.echo(f"wrote {target}: {counts['kept_drawn']} kept + {counts['dropped_drawn']} dropped "
               f"(of {counts['kept']} kept, {counts['dropped']} dropped)")
