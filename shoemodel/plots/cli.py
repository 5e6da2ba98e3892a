"""`shoemodel plots`: draw every plot to PNG from the stages' metrics and plot data, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail


def plots(
    out: Path | None = typer.Option(None, "--out", help="Folder for the PNGs [params.yaml: plots.out]."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Loss curves, set statistics, Table 5 per-class IoU and the annotation rounds as PNGs (no network). Params: plots."""

    cfg = command_config(params, set_, "plots").load("plots", {"out": out})
    from shoemodel.plots.render import PlotSourceError, render_all

    try:
        written = render_all(cfg)
    except PlotSourceError as exc:
        fail(str(exc))
    if not written:
        fail(f"nothing to plot: no metrics under {cfg.metrics_dir} or plot data under {cfg.plots_dir} "
             "(run `dvc repro` first)", 1)
    typer.echo(f"{len(written)} plots -> {cfg.out}")


def register(root: typer.Typer) -> None:
    """Add the `plots` command to the root CLI."""
    root.command("plots")(plots)
