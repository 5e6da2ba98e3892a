"""`shoemodel train wd|lps-keypoints|lps-diffusion` and `shoemodel evaluate wd|lps-keypoints|lps-diffusion`.

Settings come from params.yaml (`train.wd`, `train.lps_keypoints`, `train.lps_diffusion`); `--set key=value`
overrides any field for one run (the same keys `dvc exp run -S train.wd.key=value` changes).
"""

from __future__ import annotations

import json
from typing import Any

import typer

eval_app = typer.Typer(no_args_is_help=True, help="Evaluate WD and LpS models against baselines (metrics JSON).")

_SECTIONS = {"wd": "train.wd", "lps-keypoints": "train.lps_keypoints", "lps-diffusion": "train.lps_diffusion"}


def _parse_overrides(items: list[str] | None) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"--set expects key=value, got '{item}'")
        k, v = item.split("=", 1)
        value = yaml.safe_load(v)
        if isinstance(value, str):  # YAML 1.1 reads "2e-3" as a string
            try:
                value = float(value)
            except ValueError:
                pass
        out[k.strip()] = value
    return out


def _load(kind: str, params: str | None, overrides: list[str] | None) -> Any:
    from shoemodel.config import DEFAULT_PARAMS, load_section

    params = params or str(DEFAULT_PARAMS)
    if kind == "wd":
        from shoemodel.training.wd.config import WDConfig as C
    elif kind == "lps-keypoints":
        from shoemodel.training.lps_keypoints.config import FootKeypointsConfig as C
    else:
        from shoemodel.training.lps_diffusion.config import LegDiffusionConfig as C
    return load_section(C, _SECTIONS[kind], params, overrides=_parse_overrides(overrides))


def _threads(cfg: Any) -> None:
    import torch

    if cfg.cpu_threads > 0 and not torch.cuda.is_available():
        torch.set_num_threads(cfg.cpu_threads)


_PARAMS = typer.Option(None, "--params", help="params file to read the section from [default: $SHOEMODEL_PARAMS or params.yaml]")
_SET = typer.Option(None, "--set", help="override a config field, e.g. --set steps=10 (repeatable)")


def train_wd_command(params: str | None = _PARAMS, set_: list[str] = _SET) -> None:
    """WD: train Segformer (3 classes, or 2 with two_class) on the wearable-area set."""
    from shoemodel.training.wd.train import train_wd

    cfg = _load("wd", params, set_)
    _threads(cfg)
    typer.echo(json.dumps({k: v for k, v in train_wd(cfg).items() if k != "losses"}))


def train_lps_keypoints_command(params: str | None = _PARAMS, set_: list[str] = _SET) -> None:
    """LpS phase 1: train the ViTPose foot-keypoint model on the shoe-leg set."""
    from shoemodel.training.lps_keypoints.train import train_lps_keypoints

    cfg = _load("lps-keypoints", params, set_)
    _threads(cfg)
    typer.echo(json.dumps({k: v for k, v in train_lps_keypoints(cfg).items() if k != "losses"}))


def train_lps_diffusion_command(params: str | None = _PARAMS, set_: list[str] = _SET) -> None:
    """LpS phase 2: train the leg-pose diffusion MLP on the shoe-leg keypoints."""
    from shoemodel.training.lps_diffusion.train import train_lps_diffusion

    cfg = _load("lps-diffusion", params, set_)
    _threads(cfg)
    typer.echo(json.dumps({k: v for k, v in train_lps_diffusion(cfg).items() if k != "losses"}))


def _write(cfg: Any, report: dict[str, Any], name: str = "eval.json") -> None:
    from shoemodel.store.atomic import write_json

    write_json(f"{cfg.metrics_dir}/{name}", report)
    typer.echo(json.dumps(report, indent=1))


@eval_app.command("wd")
def evaluate_wd_command(params: str | None = _PARAMS, set_: list[str] = _SET) -> None:
    """Table 5 metrics of the trained WD model, an untrained one and the foreground rule."""
    from shoemodel.training.wd.evaluate import evaluate_wd

    cfg = _load("wd", params, set_)
    _threads(cfg)
    _write(cfg, evaluate_wd(cfg.output_dir, cfg.train_set, cfg.eval_split, cfg.model_size, cfg.image_size,
                            cfg.two_class, cfg.seed))


@eval_app.command("lps-keypoints")
def evaluate_lps_keypoints_command(params: str | None = _PARAMS, set_: list[str] = _SET) -> None:
    """PCK@0.05/0.1 and per-point error: trained vs untrained vs mean-position baseline."""
    from shoemodel.training.lps_keypoints.evaluate import evaluate_lps_keypoints

    cfg = _load("lps-keypoints", params, set_)
    _threads(cfg)
    _write(cfg, evaluate_lps_keypoints(cfg.output_dir, cfg.train_set, cfg.eval_split, cfg.model_size,
                                       cfg.image_size, cfg.seed))


@eval_app.command("lps-diffusion")
def evaluate_lps_diffusion_command(params: str | None = _PARAMS, set_: list[str] = _SET) -> None:
    """MMD to held-out poses, plausibility, diversity, ankle agreement: generated vs random vs mean pose."""
    from shoemodel.training.lps_diffusion.evaluate import evaluate_lps_diffusion

    cfg = _load("lps-diffusion", params, set_)
    _threads(cfg)
    _write(cfg, evaluate_lps_diffusion(cfg.output_dir, cfg.train_set, cfg.eval_split, cfg.eval_samples, cfg.seed))


def register_commands(train_app: typer.Typer, root: typer.Typer) -> None:
    """Hook the WD / LpS commands into the `train` group and add the `evaluate` group to the root."""
    train_app.command("wd")(train_wd_command)
    train_app.command("lps-keypoints")(train_lps_keypoints_command)
    train_app.command("lps-diffusion")(train_lps_diffusion_command)
    root.add_typer(eval_app, name="evaluate")
