"""`shoemodel curate review` (send a review round of the shoe-leg set to Label Studio) and `curate review import`
(read the submitted reviews into the corrections table that `curate build` applies). Params: curation.review;
server URL and token from LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY as for `shoemodel annotate`."""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail, group_callback, param_help

app = typer.Typer(help="Review rounds of the shoe-leg set in Label Studio (params: curation.review).")

URL = typer.Option(None, "--url", help="Label Studio URL (default: $LABEL_STUDIO_URL or http://127.0.0.1:8080).")
TOKEN = typer.Option(None, "--token", help="API token (default: $LABEL_STUDIO_API_KEY).", show_default=False)
WORK = typer.Option(None, "--work-dir", help=param_help("Folder of the curation stage tables.", "curation.work_dir"))


def _setup(params: Path | None, sets: list[str] | None, url: str | None, token: str | None, work_dir: Path | None):
    from shoemodel.annotation.config import server_from_env

    cfg = command_config(params, sets, "curation").load("curation", {"work_dir": work_dir})
    try:
        url, token = server_from_env(url, token)
    except RuntimeError as exc:
        fail(str(exc), 1)
    return cfg, url, token


def _guard(fn, *args, **kwargs):
    from shoemodel.annotation.client import LabelStudioError
    from shoemodel.curation.corrections import CorrectionsError

    try:
        return fn(*args, **kwargs)
    except (LabelStudioError, CorrectionsError, FileNotFoundError) as exc:
        fail(str(exc), 1)


@app.callback(invoke_without_command=True)
def review(ctx: typer.Context,
           n: int | None = typer.Option(None, "--n", help=param_help("Kept records to send, lowest review priority first.",
                                                                      "curation.review.n")),
           dropped: str | None = typer.Option(None, "--dropped", help=param_help(
               "Also send persons the segment stage dropped with a reason starting with this, e.g. 'mask qc'.",
               "curation.review.dropped_reason")),
           n_dropped: int | None = typer.Option(None, "--n-dropped", help=param_help(
               "How many dropped persons (0: as many as --n).", "curation.review.n_dropped")),
           new: bool = typer.Option(False, "--new", help="Start a new round even while the last one has pending tasks."),
           work_dir: Path | None = WORK, url: str = URL, token: str = TOKEN,
           params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Send the next review round (or, while one is open, repair its served photos). Safe to re-run."""
    if ctx.invoked_subcommand is not None:  # `curate review --set k=v import`: the options apply to the subcommand
        group_callback(params, set_)
        return
    from shoemodel.curation.review import send_round

    cfg, url, token = _setup(params, set_, url, token, work_dir)
    rep = _guard(send_round, cfg, url, token, n=n, dropped_reason=dropped, n_dropped=n_dropped, new=new)
    if rep.resumed:
        typer.echo(f"review round {rep.round} is open: {rep.pending} tasks pending, {rep.photos_written} photos "
                   "re-written (`--new` starts another round)")
    elif not rep.created:
        typer.echo("nothing to review: every candidate was already sent or corrected")
    else:
        typer.echo(f"review round {rep.round}: {rep.created} tasks created ({rep.kept} kept, {rep.dropped} dropped "
                   f"persons), {rep.photos_written} photos written")


@app.command("import")
def import_cmd(url: str = URL, token: str = TOKEN, work_dir: Path | None = WORK,
               keep_going: bool = typer.Option(False, "--keep-going", help="Exit 0 even when some tasks failed."),
               params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Read every finished review task into the corrections table (curation.review.corrections; commit it)."""
    from shoemodel.curation.review import import_round

    cfg, url, token = _setup(params, set_, url, token, work_dir)
    rep = _guard(import_round, cfg, url, token)
    typer.echo(f"{cfg.review.corrections}: {rep.entries} corrections ({rep.kept} kept, {rep.rejected} rejected read "
               f"now); {rep.pending} tasks pending, {rep.skipped} skipped")
    for line in rep.failed:
        typer.secho(f"failed: {line}", fg="red", err=True)
    if rep.failed and not keep_going:
        fail(f"{len(rep.failed)} task(s) failed (the others are in the table); fix them in Label Studio and re-run "
             "`shoemodel curate review import`", 2)


@app.command("connect")
def connect_cmd(backend: str = typer.Option("http://127.0.0.1:9090", "--backend", help="URL of the running `shoemodel annotate ml-backend` (with --sam)."),
                url: str = URL, token: str = TOKEN, params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Add the ML backend to the review project for interactive pre-annotation: its SAM answers the shoe prompts."""
    from shoemodel.annotation.client import connect
    from shoemodel.annotation.ml_backend import connect_backend
    from shoemodel.curation.review import review_project

    cfg, url, token = _setup(params, set_, url, token, None)
    client = _guard(connect, url, token, cfg.review.timeout_s)
    project = _guard(review_project, client, cfg.review.project_title)
    found = _guard(connect_backend, client, project.id, backend, "shoemodel SAM (review)")
    # Label Studio 1.23 checks the backend again on every update: it needs the url and the project each time
    client.ml.update(id=found.id, url=backend, project=project.id, is_interactive=True)
    typer.echo(f"ML backend {backend} is on for interactive pre-annotation in project {project.id} "
               f"({cfg.review.project_title})")
