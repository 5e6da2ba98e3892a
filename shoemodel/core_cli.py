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
    out: Path | None = typer.Option(None, "--out", help="Output folder [params.yaml: sample.out, default data/sample]."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Make the bundled synthetic sample (exact ground truth; for tests and the offline default run). Params: sample."""
    from shoemodel.synthetic.sample import write_sample

    cfg = command_config(params, set_, "sample").load("sample", {"out": out})
    path = write_sample(cfg)
    typer.echo(f"sample written to {path} ({cfg.n_shoe_leg} worn scenes, {cfg.n_wearable_area} product photos, {cfg.size}px)")


def build_set(
    set_name: str = typer.Argument(..., callback=_check_set_name, help="shoe_leg or wearable_area."),
    labels: Path = typer.Option(..., "--labels", help="Labelled folder holding labels.jsonl (e.g. data/sample/shoe_leg)."),
    out: Path = typer.Option(..., "--out", help="Output set folder (shards/ + manifest.json)."),
    executor: str | None = typer.Option(None, "--executor", help="inline | local (Dask LocalCluster) | address (params: executor.kind)."),
    workers: int | None = typer.Option(None, "--workers", help="LocalCluster worker processes (params: executor.n_workers)."),
    address: str | None = typer.Option(None, "--address", help="Dask scheduler address; implies --executor address (params: executor.address)."),
    allow_outside: bool = typer.Option(False, "--allow-outside", help="Let image/mask paths leave the labelled folder (params: sets.allow_outside)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Build (or resume, or extend) a shard set from a labelled folder; bad lines are recorded and skipped. Params: sets, executor."""
    from shoemodel.parallel import executor_from_config
    from shoemodel.sets.from_labels import build_set_from_labels
    from shoemodel.store.writer import iter_failures

    cc = command_config(params, set_, "sets", "executor")
    cfg = cc.load("sets", {"allow_outside": True if allow_outside else None})
    ex_cfg = cc.load("executor", {"kind": executor, "n_workers": workers, "address": address},
                     implied={"kind": "address"} if address else None)
    need_path(labels, "labelled folder (--labels)")
    need_path(labels / "labels.jsonl", "labels file", "file")
    from shoemodel.store.atomic import user_os_error
    from shoemodel.store.lock import FolderLocked, folder_lock

    try:
        with folder_lock(out, f"shoemodel build-set {set_name} --out {out}"), executor_from_config(ex_cfg) as ex:
            manifest = build_set_from_labels(labels, out, set_name, cfg, executor=ex)
    except (FolderLocked, OSError) as exc:
        if isinstance(exc, OSError) and not user_os_error(exc):
            raise
        fail(str(exc))
    for failure in iter_failures(out):
        typer.echo(f"skipped {failure.item}: {failure.reason}", err=True)
    typer.echo(f"{set_name}: {manifest.num_records} records in {len(manifest.shards)} shards, {manifest.num_failures} skipped -> {out}")


def merge_sets(
    set_name: str = typer.Argument(..., callback=_check_set_name, help="shoe_leg or wearable_area."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Where to write per-input counts (DVC metrics JSON)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Merge the inputs listed in params (merge.SET.inputs, human labels first: labelled before curated, annotated before labelled) into the
    training set: de-duplicated by content hash, splits kept (held-out wins). Absent or empty inputs are fine. Params: merge."""
    from shoemodel.sets.merge import merge_sets as run_merge

    cfg = command_config(params, set_, "merge").load("merge")
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
    typer.echo(f"{set_dir}: {m['num_records']} records, splits {m['splits']} -> {metrics}")


def validate(
    set_dir: Path = typer.Argument(..., help="A set folder (with manifest.json)."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Re-check every record of a set against its schema and its shard hashes against the manifest. Params: none."""
    from shoemodel.store.verify import verify_set

    command_config(params, set_)
    manifest = _manifest(set_dir)
    n, problems = verify_set(set_dir, manifest)
    for p in problems:
        typer.echo(p, err=True)
    typer.echo(f"{set_dir}: {n} records checked, {len(problems)} problems")
    raise typer.Exit(1 if problems else 0)


def push_set(
    set_dir: Path = typer.Argument(..., help="A set folder (with manifest.json and README.md)."),
    repo_id: str = typer.Argument(..., help="Hub dataset repo, e.g. you/shoemodel-shoe-leg."),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Upload a set to the Hugging Face Hub as it is: shards, dataset card, manifest (token: HF_TOKEN). Params: none."""
    from shoemodel.store.hub import push_set as push

    command_config(params, set_)
    _manifest(set_dir)
    try:
        info = push(set_dir, repo_id, private=private)
    except FileNotFoundError as exc:
        fail(str(exc))
    typer.echo(f"pushed {set_dir} -> {getattr(info, 'commit_url', repo_id)}")


def _plain(value):
    """A config value as YAML writes it (tuples as lists, paths as text)."""
    import dataclasses
    import os

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def config(
    section: str | None = typer.Argument(None, help="A params section (train.wd, generate, curation.detect, ...); "
                                        "default: every section."),
    diff: bool = typer.Option(False, "--diff", help="Only what the params file and --set change: key, default, value."),
    params: Path | None = PARAMS,
    set_: list[str] | None = SET,
) -> None:
    """Print the resolved configuration as YAML: the params file, then --set (what a command of that section runs with)."""
    import yaml

    from shoemodel.config import changed_leaves, defaults_of
    from shoemodel.config_registry import SECTIONS, config_class, section_for

    top = section_for(section) if section is not None else None
    if section is not None and top is None:
        fail(f"unknown section '{section}'; sections: {', '.join(SECTIONS)}")
    names = [top] if top is not None else list(SECTIONS)
    cc = command_config(params, set_, *names)
    if diff:
        base = cc.params.parent if cc.params is not None else None
        for name in names:
            default = _plain(defaults_of(config_class(name), name, base))
            for key, old, new in changed_leaves(default, _plain(cc.load(name)), name):
                if section is None or key == section or key.startswith(section + "."):
                    typer.echo(f"{key}: {_flow(old)} -> {_flow(new)}")
        return
    tree: dict = {}
    for name in names:
        value = _plain(cc.load(name))
        for part in (section or name)[len(name):].strip(".").split(".") if section and section != name else []:
            if not isinstance(value, dict) or part not in value:
                fail(f"{name}: no key '{section[len(name) + 1:]}'")
            value = value[part]
        node = tree
        parts = (section or name).split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    typer.echo(yaml.safe_dump(tree, sort_keys=False, default_flow_style=False).rstrip())


def _flow(value) -> str:
    """A value on one line, as YAML flow style writes it (`[a, b]`, `{}`, `''`)."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def register(root: typer.Typer) -> None:
    """Add the core commands to the root CLI."""
    root.command("config")(config)
    root.command("push-set")(push_set)
    root.command("sample")(sample)
    root.command("build-set")(build_set)
    root.command("merge-sets")(merge_sets)
    root.command("stats")(stats)
    root.command("validate")(validate)
