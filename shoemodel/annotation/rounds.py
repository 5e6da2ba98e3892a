"""One annotation round end to end: choose images, record the round, export; and import, status.

`run_round` is idempotent: while the latest round is open (tasks still pending), running it again
re-exports that same round, creating only the tasks that are missing; a new round starts once the
previous one is closed by an import (or when `new=True`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoemodel.annotation.client import connect, get_or_create_project
from shoemodel.annotation.config import AnnotationConfig, snapshot_path
from shoemodel.annotation.export import SHOE_MASK_VERSION, ExportReport, export_round
from shoemodel.annotation.importer import (
    ImportReport,
    build_set,
    close_finished_rounds,
    pull,
    read_snapshot,
    task_state,
)
from shoemodel.annotation.ledger import Ledger, Round, load_ledger, save_ledger
from shoemodel.annotation.predictor import Predictor
from shoemodel.annotation.selection import select


@dataclass
class Session:
    """A checked connection plus the project and the ledger of this work folder."""

    client: Any
    project: Any
    ledger: Ledger
    url: str


def open_session(cfg: AnnotationConfig, url: str, token: str) -> Session:
    """Connect (clear error when down or the token is wrong), then find or create the project."""
    client = connect(url, token, cfg.timeout_s)
    project = get_or_create_project(client, cfg.project_title)
    ledger = load_ledger(cfg.workdir)
    if ledger.project_id not in (None, project.id) or (ledger.url and ledger.url != url):
        raise RuntimeError(
            f"{cfg.workdir}/rounds.json belongs to project {ledger.project_id} on {ledger.url}, not "
            f"{project.id} on {url}; use another annotation.workdir for another server or project"
        )
    ledger.project_id, ledger.url = project.id, url
    return Session(client, project, ledger, url)


def run_round(cfg: AnnotationConfig, url: str, token: str, *, n: int | None = None,
              predictor: Predictor | None = None, model_version: str = "", new: bool = False) -> tuple[Round, ExportReport]:
    """Resume the open round or start the next one, then export its missing tasks."""
    s = open_session(cfg, url, token)
    current = s.ledger.current()
    if current is None or new:
        sel = select(cfg.pool, n or cfg.round_size, cfg.seed + len(s.ledger.rounds), s.ledger.sent_ids,
                     predictor, cfg.candidates)
        if not sel.ids:
            raise RuntimeError(f"the pool {cfg.pool} has no image left that no round has sent")
        current = Round(len(s.ledger.rounds) + 1, sel.ids, sel.method,
                        model_version or (SHOE_MASK_VERSION if predictor is None else "wd"), scores=sel.scores)
        s.ledger.rounds.append(current)
        save_ledger(cfg.workdir, s.ledger)  # before sending: a crash re-runs this same selection
    root = Path(cfg.document_root or cfg.workdir)
    report = export_round(s.client, s.project.id, cfg.pool, current.round, current.ids, document_root=root,
                          url_prefix=cfg.image_url_prefix,
                          predictor=predictor if current.model_version != SHOE_MASK_VERSION else None,
                          model_version=current.model_version)
    if report.missing:
        current.missing = sorted(set(current.missing) | set(report.missing))
        current.ids = [i for i in current.ids if i not in set(report.missing)]
    save_ledger(cfg.workdir, s.ledger)
    return current, report


def run_import(cfg: AnnotationConfig, url: str, token: str, build: bool = True) -> ImportReport:
    """Snapshot the project's tasks, rebuild the annotated set (unless build=False), close finished rounds."""
    s = open_session(cfg, url, token)
    snapshot = pull(s.client, s.project.id, snapshot_path(cfg))
    tasks = read_snapshot(snapshot)
    if not build:
        report = ImportReport(pending=sum(task_state(t) == "pending" for t in tasks))
        report.closed_rounds = close_finished_rounds(s.ledger, tasks)
        save_ledger(cfg.workdir, s.ledger)
        return report
    report = build_set(snapshot, cfg.pool, cfg.output, min_agreement=cfg.min_agreement,
                       records_per_shard=cfg.records_per_shard,
                       server={"url": url, "project_id": s.project.id, "project_title": cfg.project_title})
    report.closed_rounds = close_finished_rounds(s.ledger, tasks)
    save_ledger(cfg.workdir, s.ledger)
    return report


def round_status(cfg: AnnotationConfig, url: str, token: str) -> list[dict[str, Any]]:
    """Per round: how many tasks are pending, done, skipped, empty (live from the server)."""
    from shoemodel.annotation.client import iter_tasks

    s = open_session(cfg, url, token)
    states = {t["data"].get("record_id"): task_state(t) for t in iter_tasks(s.client, s.project.id)}
    rows = []
    for r in s.ledger.rounds:
        counts = {k: 0 for k in ("pending", "done", "skipped", "empty", "not_sent")}
        for i in r.ids:
            counts[states.get(i, "not_sent")] += 1
        rows.append({"round": r.round, "status": r.status, "selection": r.selection, "images": len(r.ids), **counts})
    return rows
