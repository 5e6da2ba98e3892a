"""The `shoemodel` command. Each area owns its commands in <area>/cli.py and registers them here.

Every command takes `--params PATH` and `--set KEY=VALUE` (shoemodel/cli_options.py says how they
combine); they may also come before the command name, for all of it. Heavy libraries (torch,
transformers, label-studio-sdk, fiftyone) are imported inside commands, so `shoemodel --help` stays fast.
"""

from __future__ import annotations

import typer

from shoemodel import cli_options, convert_cli, core_cli, weights_cli
from shoemodel.annotation import cli as annotation_cli
from shoemodel.curation import cli as curation_cli
from shoemodel.demo import cli as demo_cli
from shoemodel.pipelines import cli as pipelines_cli
from shoemodel.plots import cli as plots_cli
from shoemodel.training import cli as training_cli

app = typer.Typer(
    cls=cli_options.OneLineErrors,
    rich_markup_mode=None,  # help texts mean their brackets ("[params.yaml: sample.out]"); no markup
    no_args_is_help=True,
    help="ShoeModel toolkit: build the shoe-wearing dataset, train WD / LpS / SW, benchmark, generate.\n\n"
         "Settings come from the params file (--params, default ./params.yaml) and `--set section.key=value`; "
         "relative paths in the file are read against its folder.",
    pretty_exceptions_show_locals=False,
)
app.callback()(cli_options.root_callback)
core_cli.register(app)
for area in (curation_cli, annotation_cli, training_cli, pipelines_cli, convert_cli, weights_cli, plots_cli, demo_cli):
    area.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
