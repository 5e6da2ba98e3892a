"""Command-line entry points of the training area; `register` hooks them into the `shoemodel` command."""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, group_callback

app = typer.Typer(no_args_is_help=True, callback=group_callback, help="Train and evaluate WD, LpS phase 1 / phase 2 and SW; train the curation's shoe prior.")


@app.command("sw")
def train_sw_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """SW: train the ShoeControlNet (X_w ⊕ X_p, frozen SD 1.5) with accelerate; resumes from the newest checkpoint.

    Params: train.sw.
    """
    from shoemodel.training.cli_wd_lps import echo_summary, load_model_config

    cfg = load_model_config("sw", params, set_)
    from shoemodel.training.sw.train import train_sw

    echo_summary(train_sw(cfg))


@app.command("sw-cache")
def sw_cache_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """SW: precompute the VAE latents and text embeddings of the shoe-leg set into `latent_cache` (rebuilt when stale).

    Params: train.sw (train_set, base_model, resolution, latent_cache, cache_variants, cache_dtype).
    """
    from shoemodel.cli_options import fail
    from shoemodel.training.cli_wd_lps import echo_summary, load_model_config

    cfg = load_model_config("sw", params, set_)
    from shoemodel.training.sw.train import build_sw_cache

    try:
        echo_summary(build_sw_cache(cfg, log=typer.echo))
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))


@app.command("shoe-prior")
def train_shoe_prior_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Shoe prior: train the tiny shoe segmenter on the CCP fixture photos' train split (foot crops from the
    offline-default pose); writes shoe_prior.safetensors + card.json (val metrics) to output_dir.

    Params: train.shoe_prior (ship the result: --set output_dir=shoemodel/models/shoe_prior/weights).
    """
    from shoemodel.cli_options import fail
    from shoemodel.training.cli_wd_lps import echo_summary, load_model_config

    cfg = load_model_config("shoe-prior", params, set_)
    from shoemodel.training.shoe_prior.train import train_shoe_prior

    try:
        echo_summary(train_shoe_prior(cfg, log=typer.echo))
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))


def register(root: typer.Typer) -> None:
    """Add this area's command group (and any top-level commands) to the root CLI."""
    from shoemodel.training.cli_wd_lps import register_commands

    register_commands(app, root)  # train wd | lps-keypoints | lps-diffusion, and the `evaluate` group
    root.add_typer(app, name="train")
