"""`shoemodel weights`: every published checkpoint the current params need, where it resolves, and whether it is there.

Nothing is downloaded at run time, so before a long run a user wants one list: for each checkpoint the
params name (curation detect / pose / segment, the training bases, the metric networks), the path it
resolves to (as given, or under $SHOEMODEL_WEIGHTS), present or missing, its size and SHA-256, and the
official name to download with where it goes. `--check` fails naming what is required and missing. The
project's own trained folders (models/sw, models/wd, ...) are made by `shoemodel train` and not listed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail
from shoemodel.models.weights import WEIGHTS_ENV, resolve_weights

SECTIONS = ("curation", "train.wd", "train.sw", "benchmark", "generate")
SAM_FILES = {"vit_h": "sam_vit_h_4b8939.pth", "vit_l": "sam_vit_l_0b3195.pth", "vit_b": "sam_vit_b_01ec64.pth"}
BASELINES = {"SD1.5": ("sd15", "stable-diffusion-v1-5 (diffusers folder)"),
             "SDXL": ("sdxl", "stable-diffusion-xl-base-1.0 (diffusers folder)"),
             "SD1.5-inpaint": ("sd15_inpaint", "stable-diffusion-inpainting (diffusers folder)"),
             "ControlNet-inpaint": ("controlnet_inpaint", "control_v11p_sd15_inpaint (diffusers folder)"),
             "Paint-by-Example": ("paint_by_example", "Paint-by-Example (diffusers folder)")}


@dataclass
class Needed:
    """One checkpoint the params name: its params key, the configured path, and where to get it."""

    key: str  # params key, e.g. curation.pose.weights
    path: str  # as configured (already read against the params file's folder)
    required: bool  # False: the command runs without it (a fallback, a skipped benchmark row)
    official: str  # what to download


def _curation(c: Any) -> list[Needed]:
    """The files each stage's backend loads (shoemodel.curation.backends: `files`, `needs_weights`)."""
    from shoemodel.curation.backends import STAGES, get

    out: list[Needed] = []
    for stage in STAGES:
        cfg = getattr(c, stage)
        auto = cfg.backend == "auto"  # detect: yolox_onnx when its weights are there, else full_frame
        b = get(stage, "yolox_onnx" if auto else cfg.backend)
        for field, what in b.files:
            path = getattr(cfg, field)
            if b.needs_weights or auto:
                required = not auto
            elif path:  # an optional file that is named: required unless it is a model .yaml (random weights)
                required = not str(path).endswith((".yaml", ".yml"))
            else:
                continue
            if stage == "segment" and b.name == "sam" and cfg.model_type in SAM_FILES:
                what = f"{SAM_FILES[cfg.model_type]} (segment-anything release)"
            if auto:
                what += "; auto falls back to full_frame without it"
            out.append(Needed(f"curation.{stage}.{field}", path, required, what))
    return out


def _training(wd: Any, sw: Any) -> list[Needed]:
    out: list[Needed] = []
    mit = f"nvidia/mit-{wd.model_size} (Segformer MiT folder)" if wd.model_size != "tiny" else "nvidia/mit-b2 (Segformer MiT folder)"
    if wd.pretrained:
        out.append(Needed("train.wd.pretrained", wd.pretrained, True, mit))
    if sw.base_model != "tiny":
        out.append(Needed("train.sw.base_model", sw.base_model, True,
                          "stable-diffusion-v1-5 (diffusers folder, or v1-5-pruned-emaonly.safetensors with train.sw.base_config)"))
    if sw.base_config:
        out.append(Needed("train.sw.base_config", sw.base_config, True, "stable-diffusion-v1-5's config files (diffusers layout)"))
    if sw.controlnet_init:
        out.append(Needed("train.sw.controlnet_init", sw.controlnet_init, True, "a saved ShoeControlNet folder"))
    return out


def _metrics(b: Any, g: Any) -> list[Needed]:
    out: list[Needed] = []
    if b.features == "inception":
        out.append(Needed("benchmark.inception_weights", b.inception_weights, True,
                          "pt_inception-2015-12-05-6726825d.pth (FID Inception v3, pytorch-fid / torch-fidelity release)"))
    if b.clip != "tiny-random":
        out.append(Needed("benchmark.clip", b.clip, True, "openai/clip-vit-large-patch14 (transformers folder)"))
    for method, (field, name) in BASELINES.items():
        if method in b.methods:
            out.append(Needed(f"benchmark.{field}", getattr(b, field), False, f"{name}; its Table 3 row is skipped without it"))
    if g.sam_checkpoint:
        out.append(Needed("generate.sam_checkpoint", g.sam_checkpoint, True, "sam_vit_h_4b8939.pth or a SAM-family folder"))
    return out


def needed_weights(params: Path | None = None, sets: list[str] | None = None) -> list[Needed]:
    """Every checkpoint the params (file + --set) name, in pipeline order: curation, training, metrics."""

    cc = command_config(params, sets, *SECTIONS)
    return (_curation(cc.load("curation"))
            + _training(cc.load("train.wd"), cc.load("train.sw"))
            + _metrics(cc.load("benchmark"), cc.load("generate")))


def sha256_of(path: Path) -> str:
    """SHA-256 of a file; of a folder, of its files' relative names and contents in sorted order."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
    for f in files:
        if path.is_dir():
            h.update(f"{f.relative_to(path)}\n".encode())
        with f.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def size_of(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def weights(
    check: bool = typer.Option(False, "--check", help="Exit 1 naming each required checkpoint that is missing."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """List the checkpoints the params need: resolved path, present / missing, size, SHA-256, what to download.
    Params: curation, train.wd, train.sw, benchmark, generate."""
    missing = []
    items = needed_weights(params, set_)
    if not items:
        typer.echo("no published checkpoints are named by these params (sample settings: tiny / random models)")
    else:
        typer.echo(f"{'params key':<28} {'need':<8} {'status':<8} path")
    for n in items:
        found = resolve_weights(n.path)
        need = "required" if n.required else "optional"
        if found is None:
            where = f"put it at {Path(n.path).absolute()}" if n.path else f"set {n.key}"
            typer.echo(f"{n.key:<28} {need:<8} MISSING  {n.path or '(not set)'}")
            typer.echo(f"{'':<28} get: {n.official}; {where} (or under ${WEIGHTS_ENV})")
            if n.required:
                missing.append(f"{n.key} ({n.path or 'not set'})")
        else:
            typer.echo(f"{n.key:<28} {need:<8} present  {found.resolve()}  {_human(size_of(found))}")
            typer.echo(f"{'':<28} sha256 {sha256_of(found)}  ({n.official})")
    if check and missing:
        fail(f"missing required checkpoint(s): {', '.join(missing)}", code=1)


def register(root: typer.Typer) -> None:
    """Add `shoemodel weights` to the root CLI."""
    root.command("weights")(weights)
