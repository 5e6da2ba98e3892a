"""Command-line entry points of the pipelines area: the top-level `generate` and `benchmark` commands.

Heavy imports stay inside them. Every setting of the `generate` / `benchmark` params sections is
reachable with `--set` (e.g. `--set generate.wd=null` skips WD, `--set generate.layout.scale=0.8`).
"""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail, param_help


def generate(
    shoe: Path = typer.Option(..., "--shoe", help="Product photo of one shoe."),
    prompt: str = typer.Option(..., "--prompt", help="Text prompt describing the wanted image."),
    n: int | None = typer.Option(None, "-n", "--n", help=param_help("Number of images (diverse leg poses), at least 1.", "generate.n")),
    out: Path | None = typer.Option(None, "--out", help=param_help("Output folder.", "generate.out")),
    size: int | None = typer.Option(None, "--size", help="Output long side in px; default the photo's own size, up to "
                                    "generate.max_side (params: generate.size)."),
    mask: Path | None = typer.Option(None, "--mask", help="Foreground mask of the photo (non-zero = shoe)."),
    area_mask: Path | None = typer.Option(None, "--area-mask", help="Class mask 0/1/2 of the photo (skips WD)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Shoe photo + prompt -> n images of legs wearing exactly that shoe (X_w pasted back), plus a contact sheet.

    Params: generate (models sw / wd / lps_keypoints / lps_diffusion, sam_checkpoint, seed, steps, guidance,
    size, max_side, max_pixels, work_side, layout.{scale,rotate,tx,ty}, device ...); `--set generate.wd=null` skips WD.
    The output is at the photo's own size and the shoe's visible pixels are the photo's own, exactly.
    """
    from shoemodel.pipelines.model_info import model_lines
    from shoemodel.pipelines.run_generate import InputError, NoShoeError, run_generate

    cfg = command_config(params, set_, "generate").load("generate", {"n": n, "out": out, "size": size})
    check_ranges(cfg)
    try:
        record = run_generate(shoe, prompt, cfg.out, cfg, mask=mask, area_mask=area_mask)
    except (FileNotFoundError, InputError, NoShoeError) as exc:  # a bad input or missing checkpoint: one line
        fail(str(exc))
    for note in record.get("notes", []):
        typer.echo(f"note: {note}")
    w, h = record["output_size"]
    sw_w, sw_h = record["sw_size"]
    typer.echo(f"output {w}x{h} px (SW ran at {sw_w}x{sw_h}); shoe pixels "
               + ("are the photo's own, exactly" if record["shoe_pixels_exact"] else "resampled from the photo"))
    typer.echo("models:")
    for line in model_lines(record["models"]):
        typer.echo(line)
    samples = [m["stage"] for m in record["models"] if m.get("sample_model")]
    if samples:
        typer.secho(f"WARNING: {', '.join(samples)} {'is a' if len(samples) == 1 else 'are'} tiny/random sample "
                    "model(s): these images test the plumbing, they say nothing about ShoeModel's quality",
                    fg=typer.colors.YELLOW, bold=True)
    typer.echo(f"wrote {len(record['files']['images'])} images and {Path(cfg.out) / record['files']['sheet']}")


#: generate's numbers that have a least sensible value: (field, flag, minimum); the sizes are checked with the
#: photo (run_generate.prepare_inputs).
_MINIMUM = (("n", "-n", 1), ("steps", None, 1), ("guidance", None, 0))


def check_ranges(cfg: object) -> None:
    """One line, exit 2, for a value no run can use (`-n 0` would write 0 images and succeed)."""
    for name, flag, least in _MINIMUM:
        value = getattr(cfg, name, None)
        if value is not None and value < least:
            fail(f"generate.{name}{f' ({flag})' if flag else ''} must be >= {least}, got {value}")


def benchmark(
    out: Path | None = typer.Option(None, "--out", help="Folder for the table and per-image results (params: benchmark.out); "
                                    "the metrics JSON then goes there too unless --metrics is given."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Metrics JSON (DVC metrics) (params: benchmark.metrics)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Table 3: FID, KID×1k, CLIP score and shoe-identity metrics for ShoeModel and the baselines whose weights exist.

    Params: benchmark.
    """
    from shoemodel.pipelines.benchmark import run_benchmark

    implied = {"metrics": out / "table3.json"} if out is not None else None
    cfg = command_config(params, set_, "benchmark").load("benchmark", {"out": out, "metrics": metrics},
                                                         implied)
    try:
        table = run_benchmark(cfg)
    except FileNotFoundError as exc:
        fail(str(exc))
    typer.echo(table)


def register(root: typer.Typer) -> None:
    """Add the top-level `generate` / `benchmark` commands to the root CLI."""
    root.command("generate")(generate)
    root.command("benchmark")(benchmark)
