"""The `shoemodel` command. Each area owns its commands in <area>/cli.py and registers them here.

Heavy libraries (torch, transformers, label-studio-sdk, fiftyone) are imported inside commands,
so `shoemodel --help` stays fast.
"""

from __future__ import annotations

import typer

from shoemodel import annotation, core_cli, curation, pipelines, training  # noqa: F401
from shoemodel.annotation import cli as annotation_cli
from shoemodel.curation import cli as curation_cli
from shoemodel.pipelines import cli as pipelines_cli
from shoemodel.training import cli as training_cli

app = typer.Typer(
    no_args_is_help=True,
    help="ShoeModel toolkit: build the shoe-wearing dataset, train WD / LpS / SW, benchmark, generate.",
    pretty_exceptions_show_locals=False,
)
core_cli.register(app)
for area in (curation_cli, annotation_cli, training_cli, pipelines_cli):
    area.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
