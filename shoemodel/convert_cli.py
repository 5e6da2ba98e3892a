"""`shoemodel convert`: published checkpoints in their original layouts -> the folders our loaders read."""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail, group_callback, need_path

app = typer.Typer(no_args_is_help=True, callback=group_callback,
                  help="Convert published checkpoints (original layouts) into the folders shoemodel loads.")


def register(root: typer.Typer) -> None:
    """Add the `convert` group to the root CLI."""
    root.add_typer(app, name="convert")


def _size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"'{text}': give HEIGHTxWIDTH, e.g. 256x192") from None
    return h, w


@app.command("vitpose-wholebody")
def vitpose_wholebody(
    src: Path = typer.Argument(..., help="Original ViTPose / ViTPose+ .pth (mmpose-style keys backbone.*, keypoint_head.*), or a file of ViTPose's tools/model_split.py."),
    out_dir: Path = typer.Argument(..., help="Output folder: a transformers VitPoseForPoseEstimation (config.json + model.safetensors)."),
    dataset: str = typer.Option("wholebody", "--dataset", help="ViTPose+ expert and head to keep (coco, aic, mpii, ap10k, apt36k, wholebody)."),
    num_heads: int | None = typer.Option(None, "--num-heads", help="Attention heads (default: the published size for the width: S/B 12, L/H 16)."),
    image_size: str | None = typer.Option(None, "--image-size", help="Input HEIGHTxWIDTH it was trained at (default: 4:3 from the position table, e.g. 256x192)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """ViTPose(+) whole-body .pth -> the folder `curation.pose.backend: vitpose` loads (num_labels=133). Params: none."""
    from shoemodel.models.vitpose_convert import DATASETS, NUM_KEYPOINTS, convert_vitpose

    command_config(params, set_)
    need_path(src, "ViTPose checkpoint", "file")
    if dataset not in DATASETS:
        fail(f"--dataset {dataset}: use one of {', '.join(DATASETS)}")
    try:
        out, found = convert_vitpose(src, out_dir, dataset, num_heads, _size(image_size), NUM_KEYPOINTS[dataset])
    except (ValueError, KeyError, RuntimeError) as exc:
        fail(f"{src}: {exc}")
    labels = NUM_KEYPOINTS[dataset]
    typer.echo(f"{src.name}: {found}")
    typer.echo(f"{src.name} ({dataset}, {labels} keypoints) -> {out}; use curation.pose.backend: vitpose, curation.pose.weights: {out}")
