"""`shoemodel train wd|lps-keypoints|lps-diffusion` and `shoemodel evaluate wd|lps-keypoints|lps-diffusion`.

Settings come from the params file (`train.wd`, `train.lps_keypoints`, `train.lps_diffusion`); `--set` changes
any field for one run, as `--set train.wd.steps=10` (the key `dvc exp run -S` takes) or `--set steps=10`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, group_callback

eval_app = typer.Typer(no_args_is_help=True, callback=group_callback, help="Evaluate WD and LpS models against baselines (metrics JSON).")

def model_section(kind: str) -> str:
    """The params section of model `kind` (a command name: wd, lps-keypoints, ...): train.<kind with underscores>."""
    return "train." + kind.replace("-", "_")


def load_model_config(kind: str, params: Path | None, sets: list[str] | None) -> Any:
    """The config of model `kind` from its params section and --set (one-line error and exit 2 when bad)."""
    section = model_section(kind)
    return command_config(params, sets, section).load(section)


def echo_summary(summary: Any) -> None:
    """Print a trainer's summary as one JSON line (the per-step losses are in the metrics CSV)."""
    if isinstance(summary, dict):
        typer.echo(json.dumps({k: v for k, v in summary.items() if k != "losses"}, default=str))
    else:
        typer.echo(str(summary))


def _threads(cfg: Any) -> None:
    """Evaluation runs outside the training engine, so it sets the configured CPU threads itself."""
    from shoemodel.models.runtime import set_torch_threads

    set_torch_threads(cfg.cpu_threads, cpu_only=True)


def train_wd_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """WD: train Segformer (3 classes, or 2 with two_class) on the wearable-area set. Params: train.wd."""
    from shoemodel.training.wd.train import train_wd

    cfg = load_model_config("wd", params, set_)
    echo_summary(train_wd(cfg))


def train_lps_keypoints_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """LpS phase 1: train the ViTPose foot-keypoint model on the shoe-leg set. Params: train.lps_keypoints."""
    from shoemodel.training.lps_keypoints.train import train_lps_keypoints

    cfg = load_model_config("lps-keypoints", params, set_)
    echo_summary(train_lps_keypoints(cfg))


def train_lps_diffusion_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """LpS phase 2: train the leg-pose diffusion MLP on the shoe-leg keypoints. Params: train.lps_diffusion."""
    from shoemodel.training.lps_diffusion.train import train_lps_diffusion

    cfg = load_model_config("lps-diffusion", params, set_)
    echo_summary(train_lps_diffusion(cfg))


def _write(cfg: Any, report: dict[str, Any], name: str = "eval.json") -> None:
    from shoemodel.store.atomic import write_json

    write_json(f"{cfg.metrics_dir}/{name}", report)
    typer.echo(json.dumps(report, indent=1))


@eval_app.command("wd")
def evaluate_wd_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """Table 5 metrics of the trained WD model, an untrained one and the foreground rule. Params: train.wd."""
    from shoemodel.training.wd.evaluate import evaluate_wd

    cfg = load_model_config("wd", params, set_)
    _threads(cfg)
    _write(cfg, evaluate_wd(cfg.output_dir, cfg.train_set, split=cfg.eval_split, model_size=cfg.model_size,
                            image_size=cfg.image_size, two_class=cfg.two_class, seed=cfg.seed))


@eval_app.command("lps-keypoints")
def evaluate_lps_keypoints_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """PCK@0.05/0.1 and per-point error: trained vs untrained vs mean-position baseline. Params: train.lps_keypoints."""
    from shoemodel.training.lps_keypoints.evaluate import evaluate_lps_keypoints

    cfg = load_model_config("lps-keypoints", params, set_)
    _threads(cfg)
    _write(cfg, evaluate_lps_keypoints(cfg.output_dir, cfg.train_set, cfg.eval_split, cfg.model_size,
                                       cfg.image_size, cfg.seed))


@eval_app.command("lps-diffusion")
def evaluate_lps_diffusion_command(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """MMD to held-out poses, plausibility, diversity, ankle agreement: generated vs random vs mean pose.

    Params: train.lps_diffusion.
    """
    from shoemodel.training.lps_diffusion.evaluate import evaluate_lps_diffusion

    cfg = load_model_config("lps-diffusion", params, set_)
    _threads(cfg)
    _write(cfg, evaluate_lps_diffusion(cfg.output_dir, cfg.train_set, cfg.eval_split, cfg.eval_samples, cfg.seed))


def register_commands(train_app: typer.Typer, root: typer.Typer) -> None:
    """Hook the WD / LpS commands into the `train` group and add the `evaluate` group to the root."""
    train_app.command("wd")(train_wd_command)
    train_app.command("lps-keypoints")(train_lps_keypoints_command)
    train_app.command("lps-diffusion")(train_lps_diffusion_command)
    root.add_typer(eval_app, name="evaluate")
