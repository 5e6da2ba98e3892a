"""Command-line entry points of the pipelines area; `register` hooks them into the `shoemodel` command.

`generate` and `benchmark` are top-level commands (`shoemodel generate ...`); heavy imports stay inside them.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="End-to-end inference and benchmarks.")


def generate(
    shoe: Path = typer.Option(..., "--shoe", exists=True, dir_okay=False, help="Product photo of one shoe."),
    prompt: str = typer.Option(..., "--prompt", help="Text prompt describing the wanted image."),
    n: int = typer.Option(None, "-n", "--n", help="Number of images (diverse leg poses)."),
    out: Path = typer.Option(Path("reports/generate"), "--out", help="Output folder."),
    sw: str = typer.Option(None, "--sw", help="Trained SW folder (controlnet/ + sw.json)."),
    wd: str = typer.Option(None, "--wd", help="WD checkpoint folder."),
    no_wd: bool = typer.Option(False, "--no-wd", help="Skip WD: the whole foreground counts as visible area."),
    lps_keypoints: str = typer.Option(None, "--lps-keypoints", help="LpS phase-1 checkpoint."),
    lps_diffusion: str = typer.Option(None, "--lps-diffusion", help="LpS phase-2 checkpoint."),
    mask: Path = typer.Option(None, "--mask", exists=True, help="Foreground mask (non-zero = shoe)."),
    area_mask: Path = typer.Option(None, "--area-mask", exists=True, help="Class mask 0/1/2 (skips WD)."),
    sam: str = typer.Option(None, "--sam", help="SAM checkpoint (.pth or transformers folder) for the foreground."),
    seed: int = typer.Option(None, "--seed"),
    steps: int = typer.Option(None, "--steps", help="DDIM steps (paper: DDIM)."),
    guidance: float = typer.Option(None, "--guidance", help="CFG scale (paper: 7.0)."),
    negative_prompt: str = typer.Option(None, "--negative-prompt"),
    resolution: int = typer.Option(None, "--resolution", help="Canvas side (default: SW training resolution)."),
    scale: float = typer.Option(None, "--scale", help="Custom layout (§5.3): shoe scale."),
    rotate: float = typer.Option(None, "--rotate", help="Custom layout: rotation in degrees, counter-clockwise."),
    tx: float = typer.Option(None, "--tx", help="Custom layout: shift right, fraction of canvas width."),
    ty: float = typer.Option(None, "--ty", help="Custom layout: shift down, fraction of canvas height."),
    device: str = typer.Option(None, "--device"),
    params: Path = typer.Option(Path("params.yaml"), "--params", help="Defaults from its `generate` section."),
) -> None:
    """Shoe photo + prompt -> n images of legs wearing exactly that shoe (X_w pasted back), plus a contact sheet."""
    from shoemodel.config import load_section
    from shoemodel.pipelines.run_generate import GenerateConfig, run_generate

    cfg = load_section(GenerateConfig, "generate", params, overrides={
        "sw": sw, "wd": wd, "lps_keypoints": lps_keypoints, "lps_diffusion": lps_diffusion, "sam_checkpoint": sam,
        "n": n, "seed": seed, "steps": steps, "guidance": guidance, "negative_prompt": negative_prompt,
        "resolution": resolution, "device": device})
    if no_wd:
        cfg.wd = None
    layout = dict(cfg.layout)
    layout.update({k: v for k, v in (("scale", scale), ("rotate", rotate), ("tx", tx), ("ty", ty)) if v is not None})
    cfg.layout = layout
    try:
        record = run_generate(shoe, prompt, out, cfg, mask=mask, area_mask=area_mask)
    except FileNotFoundError as exc:  # a missing checkpoint: say which, without a traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"wrote {len(record['files']['images'])} images and {out / record['files']['sheet']}")


def benchmark(
    params: Path = typer.Option(Path("params.yaml"), "--params", help="Settings from its `benchmark` section."),
    out: Path = typer.Option(None, "--out", help="Folder for the table and per-image results."),
) -> None:
    """Table 3: FID, KID×1k, CLIP score and shoe-identity metrics for ShoeModel and the baselines whose weights exist."""
    from shoemodel.config import load_section
    from shoemodel.pipelines.benchmark import BenchmarkConfig, run_benchmark

    cfg = load_section(BenchmarkConfig, "benchmark", params, overrides={"out": str(out) if out else None})
    try:
        table = run_benchmark(cfg)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(table)


def register(root: typer.Typer) -> None:
    """Add this area's command group and the top-level `generate` / `benchmark` commands to the root CLI."""
    app.command("generate")(generate)
    app.command("benchmark")(benchmark)
    root.add_typer(app, name="pipeline")
    root.command("generate")(generate)
    root.command("benchmark")(benchmark)
