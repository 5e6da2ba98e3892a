"""Command-line entry points of the training area; `register` hooks them into the `shoemodel` command."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Train and evaluate WD, LpS phase 1 / phase 2 and SW.")


@app.command("sw")
def train_sw_command(
    params: str = typer.Option("params.yaml", "--params", help="Settings from its `train.sw` section."),
    data: str = typer.Option(None, "--data", help="Shoe-leg set folder."),
    base_model: str = typer.Option(None, "--base-model", help="Local SD 1.5 path (folder or single file) or 'tiny'."),
    output_dir: str = typer.Option(None, "--output-dir"),
    max_train_steps: int = typer.Option(None, "--max-train-steps"),
    resolution: int = typer.Option(None, "--resolution"),
    mixed_precision: str = typer.Option(None, "--mixed-precision", help="no | fp16 | bf16"),
) -> None:
    """SW: train the ShoeControlNet (X_w ⊕ X_p, frozen SD 1.5) with accelerate; resumes from the newest checkpoint."""
    from shoemodel.config import load_section
    from shoemodel.training.sw.config import SWConfig
    from shoemodel.training.sw.train import train_sw

    cfg = load_section(SWConfig, "train.sw", params, overrides={
        "data": data, "base_model": base_model, "output_dir": output_dir, "max_train_steps": max_train_steps,
        "resolution": resolution, "mixed_precision": mixed_precision})
    train_sw(cfg, log=typer.echo)


def register(root: typer.Typer) -> None:
    """Add this area's command group (and any top-level commands) to the root CLI."""
    from shoemodel.training.cli_wd_lps import register_commands

    register_commands(app, root)  # train wd | lps-keypoints | lps-diffusion, and the `evaluate` group
    root.add_typer(app, name="train")
