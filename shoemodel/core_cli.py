"""Core commands: make the synthetic sample, build shard sets from labelled folders, describe and check sets."""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.config import load_section

SET_NAMES = ("shoe_leg", "wearable_area")


def _check_set_name(name: str) -> str:
    if name not in SET_NAMES:
        raise typer.BadParameter(f"'{name}' is not a set; use one of {', '.join(SET_NAMES)}")
    return name


def sample(
    out: str | None = typer.Option(None, help="Output folder [params.yaml sample.out, default data/sample]."),
    n_shoe_leg: int | None = typer.Option(None, help="Worn scenes (shoe-leg set) to make."),
    n_wearable_area: int | None = typer.Option(None, help="Product photos (wearable-area set) to make."),
    size: int | None = typer.Option(None, help="Image side in pixels."),
    seed: int | None = typer.Option(None, help="Seed; the same seed gives byte-identical images."),
    params: Path = typer.Option(Path("params.yaml"), help="Parameter file."),
) -> None:
    """Make the bundled synthetic sample (exact ground truth; for tests and the offline default run)."""
    from shoemodel.synthetic.sample import SampleConfig, write_sample

    cfg = load_section(SampleConfig, "sample", params, dict(out=out, n_shoe_leg=n_shoe_leg, n_wearable_area=n_wearable_area, size=size, seed=seed))
    path = write_sample(cfg)
    typer.echo(f"sample written to {path} ({cfg.n_shoe_leg} worn scenes, {cfg.n_wearable_area} product photos, {cfg.size}px)")


def build_set(
    set_name: str = typer.Argument(..., callback=_check_set_name, help="shoe_leg or wearable_area."),
    labels: Path = typer.Option(..., help="Labelled folder holding labels.jsonl (e.g. data/sample/shoe_leg)."),
    out: Path = typer.Option(..., help="Output set folder (shards/ + manifest.json)."),
    records_per_shard: int | None = typer.Option(None, help="Records per shard [params.yaml sets.records_per_shard]."),
    executor: str = typer.Option("inline", help="inline | local (Dask LocalCluster) | address (SHOEMODEL_DASK_SCHEDULER)."),
    params: Path = typer.Option(Path("params.yaml"), help="Parameter file."),
) -> None:
    """Build (or resume) a shard set from a labelled folder; bad lines are recorded and skipped."""
    from shoemodel.parallel import ExecutorConfig, executor_from_config
    from shoemodel.sets.from_labels import BuildConfig, build_set_from_labels
    from shoemodel.store.writer import iter_failures

    cfg = load_section(BuildConfig, "sets", params, dict(records_per_shard=records_per_shard))
    ex_cfg = load_section(ExecutorConfig, "executor", params, dict(kind=executor))
    with executor_from_config(ex_cfg) as ex:
        manifest = build_set_from_labels(labels, out, set_name, cfg, executor=ex)
    for failure in iter_failures(out):
        typer.echo(f"skipped {failure.item}: {failure.reason}", err=True)
    typer.echo(f"{set_name}: {manifest.num_records} records in {len(manifest.shards)} shards, {manifest.num_failures} skipped -> {out}")


def stats(
    set_dir: Path = typer.Argument(..., help="A set folder (with manifest.json)."),
    metrics: Path = typer.Option(..., help="Where to write the metrics JSON (DVC metrics)."),
    plot: Path = typer.Option(..., help="Where to write the per-record CSV (DVC plots)."),
) -> None:
    """Dataset statistics: split sizes, failures by reason, keypoint visibility or class pixel fractions."""
    from shoemodel.sets.stats import write_statistics

    m = write_statistics(set_dir, metrics, plot)
    typer.echo(f"{m['set']}: {m['num_records']} records, splits {m['splits']} -> {metrics}")


def validate(
    set_dir: Path = typer.Argument(..., help="A set folder (with manifest.json)."),
) -> None:
    """Re-check every record of a set against its schema and its shard hashes against the manifest."""
    from shoemodel.schemas.records import RecordError, validate_record
    from shoemodel.store.manifest import file_sha256, read_manifest
    from shoemodel.store.reader import iter_records

    manifest = read_manifest(set_dir)
    bad = 0
    for shard in manifest.shards:
        if file_sha256(Path(set_dir) / shard.file) != shard.sha256:
            typer.echo(f"{shard.file}: content hash differs from the manifest", err=True)
            bad += 1
    n = 0
    for rec in iter_records(set_dir):
        n += 1
        try:
            validate_record(rec, manifest.set_name)
        except RecordError as exc:
            typer.echo(f"record {rec.get('id')}: {exc}", err=True)
            bad += 1
    typer.echo(f"{set_dir}: {n} records checked, {bad} problems")
    raise typer.Exit(1 if bad else 0)


def register(root: typer.Typer) -> None:
    """Add the core commands to the root CLI."""
    root.command("sample")(sample)
    root.command("build-set")(build_set)
    root.command("stats")(stats)
    root.command("validate")(validate)
