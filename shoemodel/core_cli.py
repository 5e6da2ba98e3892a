"""Core commands: make the synthetic sample, build shard sets from labelled folders, describe and check sets."""

from __future__ import annotations

from pathlib import Path

import typer

from shoemodel.cli_options import PARAMS, SET, command_config, fail, need_path

SET_NAMES = ("shoe_leg", "wearable_area")


def _check_set_name(name: str) -> str:
    if name not in SET_NAMES:
        raise typer.BadParameter(f"'{name}' is not a set; use one of {', '.join(SET_NAMES)}")
    return name


def sample(
    out: Path | None = typer.Option(None, "--out", help="Output folder (params: sample.out)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Make the bundled synthetic sample (exact ground truth; for tests and the offline default run). Params: sample."""
    from shoemodel.synthetic.sample import SampleConfig, write_sample

    cfg = command_config(params, set_, "sample").load(SampleConfig, "sample", {"out": out})
    path = write_sample(cfg)
    typer.echo(f"sample written to {path} ({cfg.n_shoe_leg} worn scenes, {cfg.n_wearable_area} product photos, {cfg.size}px)")


def build_set(
    set_name: str = typer.Argument(..., callback=_check_set_name, help="shoe_leg or wearable_area."),
    labels: Path = typer.Option(..., "--labels", help="Labelled folder holding labels.jsonl (e.g. data/sample/shoe_leg)."),
    out: Path = typer.Option(..., "--out", help="Output set folder (shards/ + manifest.json)."),
    executor: str | None = typer.Option(None, "--executor", help="inline | local (Dask LocalCluster) | address (params: executor.kind)."),
    workers: int | None = typer.Option(None, "--workers", help="LocalCluster worker processes (params: executor.n_workers)."),
    address: str | None = typer.Option(None, "--address", help="Dask scheduler address; implies --executor address (params: executor.address)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Build (or resume) a shard set from a labelled folder; bad lines are recorded and skipped. Params: sets, executor."""
    from shoemodel.parallel import ExecutorConfig, executor_from_config
    from shoemodel.sets.from_labels import BuildConfig, build_set_from_labels
    from shoemodel.store.writer import iter_failures

    cc = command_config(params, set_, "sets", "executor")
    cfg = cc.load(BuildConfig, "sets")
    ex_cfg = cc.load(ExecutorConfig, "executor", {"kind": executor, "n_workers": workers, "address": address},
                     implied={"kind": "address"} if address else None)
    need_path(labels, "labelled folder (--labels)")
    need_path(labels / "labels.jsonl", "labels file", "file")
    with executor_from_config(ex_cfg) as ex:
        manifest = build_set_from_labels(labels, out, set_name, cfg, executor=ex)
    for failure in iter_failures(out):
        typer.echo(f"skipped {failure.item}: {failure.reason}", err=True)
    typer.echo(f"{set_name}: {manifest.num_records} records in {len(manifest.shards)} shards, {manifest.num_failures} skipped -> {out}")


def merge_sets(
    set_name: str = typer.Argument(..., callback=_check_set_name, help="shoe_leg or wearable_area."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Where to write per-input counts (DVC metrics JSON)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Merge the inputs listed in params (merge.SET.inputs: curated / annotated sets, then labelled sets) into the
    training set: de-duplicated by content hash, splits kept (held-out wins). Absent or empty inputs are fine. Params: merge."""
    from shoemodel.sets.merge import MergeConfig
    from shoemodel.sets.merge import merge_sets as run_merge

    cfg = command_config(params, set_, "merge").load(MergeConfig, "merge")
    try:
        report = run_merge(set_name, cfg, metrics)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    for inp in report.inputs:
        typer.echo(f"  {inp.path}: {inp.status}, {inp.records} records, {inp.kept} kept, {inp.duplicates} duplicates"
                   + (f", {inp.split_overridden} split held out" if inp.split_overridden else ""))
    typer.echo(f"{set_name}: {report.num_records} records, splits {report.splits} -> {report.out}")


def _manifest(set_dir: Path):
    from shoemodel.store.manifest import read_manifest

    need_path(set_dir, "set folder")
    try:
        return read_manifest(set_dir)
    except FileNotFoundError as exc:
        fail(str(exc))


def stats(
    set_dir: Path = typer.Argument(..., help="A set folder (with manifest.json)."),
    metrics: Path = typer.Option(..., "--metrics", help="Where to write the metrics JSON (DVC metrics)."),
    plot: Path = typer.Option(..., "--plot", help="Where to write the per-record CSV (DVC plots)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Dataset statistics: split sizes, failures by reason, keypoint visibility or class pixel fractions. Params: none."""
    from shoemodel.sets.stats import write_statistics

    command_config(params, set_)
    _manifest(set_dir)
    m = write_statistics(set_dir, metrics, plot)
    typer.echo(f"{m['set']}: {m['num_records']} records, splits {m['splits']} -> {metrics}")


def validate(
    set_dir: Path = typer.Argument(..., help="A set folder (with manifest.json)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Re-check every record of a set against its schema and its shard hashes against the manifest. Params: none."""
    from shoemodel.schemas.records import RecordError, validate_record
    from shoemodel.store.manifest import file_sha256
    from shoemodel.store.reader import iter_records

    command_config(params, set_)
    manifest = _manifest(set_dir)
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
    root.command("merge-sets")(merge_sets)
    root.command("stats")(stats)
    root.command("validate")(validate)
