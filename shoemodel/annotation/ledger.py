"""The round ledger (workdir/rounds.json): which images each round sent, and whether it is closed.

It is written before any task is sent, so a crash mid-export re-runs the same selection instead
of drawing a new one; Label Studio itself stays the store of the annotations.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shoemodel.store.atomic import atomic_write_text

LEDGER_NAME = "rounds.json"


@dataclass
class Round:
    """One round: its number, the record ids it sent, how they were chosen, and its state."""

    round: int
    ids: list[str]
    selection: str
    model_version: str
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    status: str = "open"  # open -> closed once every task is annotated, skipped or cancelled
    scores: dict[str, float] = field(default_factory=dict)  # uncertainty per id, when a model chose
    missing: list[str] = field(default_factory=list)  # chosen but gone from the pool at export


@dataclass
class Ledger:
    """All rounds of one project on one server."""

    project_id: int | None = None
    url: str = ""
    rounds: list[Round] = field(default_factory=list)

    @property
    def sent_ids(self) -> set[str]:
        return {i for r in self.rounds for i in r.ids}

    def current(self) -> Round | None:
        """The latest round if it is still open (a re-run resumes it rather than starting another)."""
        return self.rounds[-1] if self.rounds and self.rounds[-1].status == "open" else None


def load_ledger(workdir: str | Path) -> Ledger:
    """The ledger of a work folder (empty when none was written yet)."""
    path = Path(workdir) / LEDGER_NAME
    if not path.exists():
        return Ledger()
    data: dict[str, Any] = json.loads(path.read_text())
    data["rounds"] = [Round(**r) for r in data.get("rounds", [])]
    return Ledger(**data)


def save_ledger(workdir: str | Path, ledger: Ledger) -> None:
    """Write the ledger atomically."""
    atomic_write_text(Path(workdir) / LEDGER_NAME, json.dumps(asdict(ledger), indent=1) + "\n")
