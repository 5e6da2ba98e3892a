"""Command-line entry points of the curation area; `register` hooks them into the `shoemodel` command."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Raw photos -> shoe-leg set: ingest, person filter, pose, SAM shoe masks, build.")


def register(root: typer.Typer) -> None:
    """Add this area's command group (and any top-level commands) to the root CLI."""
    root.add_typer(app, name="curate")
