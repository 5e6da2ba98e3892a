"""Command-line entry points of the annotation area; `register` hooks them into the `shoemodel` command.

`shoemodel annotate round|export|import|status` run Label Studio rounds; `shoemodel browse SET`
opens any set in FiftyOne. Server URL and token come from LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY.
"""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, group_callback, need_path, param_help
from shoemodel.cli_options import fail as _fail

app = typer.Typer(no_args_is_help=True, callback=group_callback, help="Label Studio rounds for the wearable-area set (params: annotation).")

URL = typer.Option(None, "--url", help="Label Studio URL (default: $LABEL_STUDIO_URL or http://127.0.0.1:8080).")
TOKEN = typer.Option(None, "--token", help="API token (default: $LABEL_STUDIO_API_KEY).", show_default=False)
PREDICTOR = typer.Option(None, "--predictor", help="WD predictor 'module:factory' (params: annotation.predictor).")


def _config(params: Path | None, sets: list[str] | None, **flags):

    return command_config(params, sets, "annotation").load("annotation", flags)


def _setup(params: Path | None, sets: list[str] | None, url: str | None, token: str | None, **flags):
    from shoemodel.annotation.config import server_from_env

    cfg = _config(params, sets, **flags)
    try:
        url, token = server_from_env(url, token)
    except RuntimeError as exc:
        _fail(str(exc), 1)
    return cfg, url, token


def _predictor(cfg):
    from shoemodel.annotation.predictor import load_predictor, wd_checkpoint, wd_model_version
    from shoemodel.models.weights import WeightsNotFound

    spec = cfg.predictor
    ckpt = cfg.predictor_args.get("checkpoint")
    try:
        pred = load_predictor(spec, **cfg.predictor_args)
        # the model version shown on predictions in Label Studio: the WD's step and weights hash when it is one
        is_wd = spec.endswith(":" + wd_checkpoint.__name__) and ckpt
        version = wd_model_version(ckpt) if is_wd else (f"{spec}@{ckpt}" if spec and ckpt else spec)
        return pred, version
    except (ValueError, TypeError, WeightsNotFound) as exc:
        _fail(str(exc), 1)


def _guard(fn, *args, **kwargs):
    from shoemodel.annotation.client import LabelStudioError

    try:
        return fn(*args, **kwargs)
    except (LabelStudioError, RuntimeError, FileNotFoundError) as exc:
        _fail(str(exc), 1)


@app.command("round")
def round_cmd(n: int = typer.Option(None, "--n", help="Images in a new round (default annotation.round_size)."),
              predictor: str | None = PREDICTOR,
              new: bool = typer.Option(False, "--new", help="Start a new round even if the latest is still open."),
              url: str = URL, token: str = TOKEN, params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Resume the open round or start the next one (least-sure images first), and send its tasks. Safe to re-run."""
    from shoemodel.annotation.rounds import run_round

    cfg, url, token = _setup(params, set_, url, token, predictor=predictor)
    pred, spec = _predictor(cfg)
    rnd, rep = _guard(run_round, cfg, url, token, n=n, predictor=pred, model_version=spec or "", new=new)
    typer.echo(f"round {rnd.round} ({rnd.selection}, {len(rnd.ids)} images): {rep.created} tasks created, "
               f"{rep.existing} already there, {rep.images_written} images written")
    if rep.missing:
        typer.secho(f"warning: {len(rep.missing)} chosen ids are gone from the pool: {rep.missing[:5]}", fg="yellow", err=True)


@app.command("export")
def export_cmd(url: str = URL, token: str = TOKEN, predictor: str | None = PREDICTOR,
               params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Re-send the open round's tasks (only the missing ones are created; images are re-written if gone)."""
    from shoemodel.annotation.ledger import load_ledger
    from shoemodel.annotation.rounds import run_round

    cfg, url, token = _setup(params, set_, url, token, predictor=predictor)
    if load_ledger(cfg.workdir).current() is None:
        _fail("no open round: start one with `shoemodel annotate round --n 200`", 1)
    pred, spec = _predictor(cfg)
    rnd, rep = _guard(run_round, cfg, url, token, predictor=pred, model_version=spec or "")
    typer.echo(f"round {rnd.round}: {rep.created} tasks created, {rep.existing} already there")


@app.command("import")
def import_cmd(url: str = URL, token: str = TOKEN, params: Path | None = PARAMS, set_: list[str] | None = SET,
               keep_going: bool = typer.Option(False, "--keep-going", help="Exit 0 even when some tasks failed."),
               pull_only: bool = typer.Option(False, "--pull-only", help="Only write the snapshot (annotation.snapshot); the `annotation_import` DVC stage builds the set from it.")) -> None:
    """Pull all finished annotations and rebuild the annotated wearable-area set; close finished rounds."""
    from shoemodel.annotation.config import snapshot_path
    from shoemodel.annotation.rounds import run_import

    cfg, url, token = _setup(params, set_, url, token)
    rep = _guard(run_import, cfg, url, token, not pull_only)
    if pull_only:
        typer.echo(f"snapshot {snapshot_path(cfg)}: {rep.pending} tasks pending; rounds closed: {rep.closed_rounds or 'none'}")
        return
    typer.echo(f"{rep.records} records written to {cfg.output}; {rep.pending} tasks pending; dropped {rep.dropped}; "
               f"rounds closed: {rep.closed_rounds or 'none'}")
    if rep.failed:
        for line in rep.failed:
            typer.secho(f"failed: {line}", fg="red", err=True)
        if not keep_going:
            _fail(f"{len(rep.failed)} task(s) failed (annotations kept in Label Studio and {snapshot_path(cfg)}); "
                  "fix them and re-run `shoemodel annotate import`", 2)


@app.command("build")
def build_cmd(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Rebuild the annotated set from the last snapshot (annotation.snapshot), without a server (the DVC stage)."""
    from shoemodel.annotation.config import snapshot_path
    from shoemodel.annotation.importer import build_set

    cfg = _config(params, set_)
    snap = Path(snapshot_path(cfg))
    if not snap.exists():
        _fail(f"{snap} not found: run `shoemodel annotate import` against the server first", 1)
    rep = build_set(snap, cfg.pool, cfg.output, min_agreement=cfg.min_agreement, records_per_shard=cfg.records_per_shard)
    typer.echo(f"{rep.records} records, {rep.pending} pending, dropped {rep.dropped}, failed {len(rep.failed)}")


@app.command("ml-backend")
def ml_backend_cmd(checkpoint: Path | None = typer.Option(None, "--checkpoint", help=param_help("WD folder.", "annotation.ml_backend.checkpoint")),
                   sam: Path | None = typer.Option(None, "--sam", help="SAM checkpoint for keypoint / box prompts (params: annotation.ml_backend.sam_checkpoint)."),
                   port: int | None = typer.Option(None, "--port", help=param_help("Port on 127.0.0.1.", "annotation.ml_backend.port")),
                   connect_project: bool = typer.Option(False, "--connect", help="Also add it to the round project in Label Studio (needs the server and token)."),
                   url: str = URL, token: str = TOKEN, params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Serve WD pre-annotations to Label Studio (its ML backend protocol: /health /setup /predict /webhook) on 127.0.0.1."""
    from shoemodel.annotation.client import connect, get_or_create_project
    from shoemodel.annotation.ml_backend import connect_backend, make_server
    from shoemodel.models.weights import WeightsNotFound

    cfg = _config(params, set_)
    mb = cfg.ml_backend
    for name, value in (("checkpoint", checkpoint), ("sam_checkpoint", sam), ("port", port)):
        if value is not None:
            setattr(mb, name, str(value) if isinstance(value, Path) else value)
    try:
        server = make_server(mb)
    except (ValueError, OSError, WeightsNotFound) as exc:
        _fail(str(exc), 1)
    import threading

    backend_url = f"http://{mb.host}:{server.server_address[1]}"
    from shoemodel.children import stop_children_on_sigterm

    stop_children_on_sigterm()
    thread = threading.Thread(target=server.serve_forever, name="ml-backend", daemon=True)
    thread.start()  # serving before connecting: Label Studio calls /health and /setup when the backend is added
    typer.echo(f"ML backend {backend_url} serving {server.backend_model.model_version} (Ctrl-C to stop)")
    try:
        if connect_project:
            _, ls_url, ls_token = _setup(params, set_, url, token)
            client = _guard(connect, ls_url, ls_token, cfg.timeout_s)
            project = _guard(get_or_create_project, client, cfg.project_title)
            backend = _guard(connect_backend, client, project.id, backend_url, mb.title)
            typer.echo(f"connected to project {project.id} ({cfg.project_title}) as ML backend {backend.id}")
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


@app.command("status")
def status_cmd(url: str = URL, token: str = TOKEN, params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Per round: images sent, pending, done, skipped, empty."""
    from shoemodel.annotation.rounds import round_status

    cfg, url, token = _setup(params, set_, url, token)
    rows = _guard(round_status, cfg, url, token)
    if not rows:
        typer.echo("no rounds yet: `shoemodel annotate round --n 200`")
    for r in rows:
        typer.echo("  ".join(f"{k}={v}" for k, v in r.items()))


def browse(set_root: Path = typer.Argument(..., help="A set folder (shoe_leg or wearable_area shards)."),
           name: str = typer.Option(None, "--name", help="FiftyOne dataset name (default shoemodel-<folder>)."),
           media_dir: Path | None = typer.Option(None, "--media-dir", help=param_help("Where decoded images/masks go.", "browse.media_dir")),
           predictor: str = typer.Option("", "--predictor", help="WD predictor 'module:factory': adds predictions and per-sample mIoU."),
           wd: Path | None = typer.Option(None, "--wd", help="WD checkpoint folder (models/wd): its predictions beside the "
                                          "ground truth, per-sample mIoU and a worst-wd saved view."),
           address: str | None = typer.Option(None, "--address", help=param_help("App address.", "browse.address")),
           port: int | None = typer.Option(None, "--port", help=param_help("App port.", "browse.port")),
           launch: bool = typer.Option(True, "--launch/--no-launch", help="Serve the App (remote mode) after loading."),
           overwrite: bool = typer.Option(False, "--overwrite", help="Rebuild the dataset even if unchanged."),
           params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Load a set into a persistent FiftyOne dataset and serve the App (remote mode: open the printed URL). Params: browse."""
    from shoemodel.annotation import browse as fob
    from shoemodel.annotation.predictor import load_predictor

    cfg = command_config(params, set_, "browse").load("browse",
                                                       {"media_dir": media_dir, "address": address, "port": port})
    need_path(set_root, "set folder")
    if wd is not None:
        need_path(wd, "WD checkpoint (--wd)")
    try:
        pred = load_predictor(predictor) if predictor else None
        if wd is not None:
            from shoemodel.annotation.predictor import wd_checkpoint

            pred = wd_checkpoint(str(wd))
        ds = fob.load_set(set_root, name=name, media_dir=cfg.media_dir, predictor=pred, overwrite=overwrite)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        _fail(str(exc), 1)
    typer.echo(f"dataset {ds.name}: {len(ds)} samples; saved views: {', '.join(ds.list_saved_views()) or 'none'}")
    if launch:
        from shoemodel.children import stop_children_on_sigterm

        stop_children_on_sigterm()  # the App server and MongoDB go with us
        typer.echo(f"App: http://{cfg.address}:{cfg.port} (Ctrl-C to stop; from a laptop: ssh -L {cfg.port}:localhost:{cfg.port} SERVER)")
        fob.launch(ds.name, cfg.address, cfg.port, remote=True)


def register(root: typer.Typer) -> None:
    """Add this area's command group and the top-level `browse` command to the root CLI."""
    root.add_typer(app, name="annotate")
    root.command("browse")(browse)
