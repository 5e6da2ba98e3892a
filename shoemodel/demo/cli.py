"""`shoemodel demo`: serve the generate page (Gradio) until interrupted."""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail, param_help


def demo(
    address: str | None = typer.Option(None, "--address", help="Address to serve on [params.yaml: demo.address, "
                                       "default 127.0.0.1: this machine only]."),
    port: int | None = typer.Option(None, "--port", help=param_help("Port.", "demo.port")),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """A web page for generate: upload a shoe photo, prompt, n, seed, layout; shows WD classes, X_w, poses and
    outputs. Models by path from the generate section. Params: demo, generate."""

    cc = command_config(params, set_, "demo", "generate")
    cfg = cc.load("demo", {"address": address, "port": port})
    gen = cc.load("generate")
    try:
        from shoemodel.demo.app import Generator, build_app
    except ImportError as exc:
        fail(f"the demo needs gradio ({exc}); pip install 'shoemodel[demo]'")
    run = Generator(gen, cfg)
    try:
        run.pipeline()  # load the models now: a missing checkpoint is an error here, not on the first click
    except FileNotFoundError as exc:
        fail(str(exc))
    from shoemodel.children import stop_children_on_sigterm

    stop_children_on_sigterm()
    _log_refusals()
    typer.echo(f"demo on http://{cfg.address}:{cfg.port} (Ctrl-C to stop)")
    build_app(gen, cfg, run).queue().launch(server_name=cfg.address, server_port=cfg.port, show_error=True,
                                            allowed_paths=[str(Path(cfg.out).resolve())])


def _log_refusals() -> None:
    """The page's refused requests, one line each on the console (shoemodel.demo.app.log)."""
    import logging
    import sys

    log = logging.getLogger("shoemodel.demo")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s demo: %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def register(root: typer.Typer) -> None:
    """Add the `demo` command to the root CLI."""
    root.command("demo")(demo)
