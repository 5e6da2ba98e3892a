"""`shoemodel demo`: serve the generate page (Gradio) until interrupted."""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail


def demo(
    address: str | None = typer.Option(None, "--address", help="Address to serve on [params.yaml: demo.address, "
                                       "default 127.0.0.1: this machine only]."),
    port: int | None = typer.Option(None, "--port", help="Port [params.yaml: demo.port]."),
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
    typer.echo(f"demo on http://{cfg.address}:{cfg.port} (Ctrl-C to stop)")
    build_app(gen, cfg, run).queue().launch(server_name=cfg.address, server_port=cfg.port, show_error=True,
                                            allowed_paths=[str(Path(cfg.out).resolve())])


def register(root: typer.Typer) -> None:
    """Add the `demo` command to the root CLI."""
    root.command("demo")(demo)
