"""Help texts name the defaults the config dataclasses hold (read from them, so they cannot go stale)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shoemodel.cli import app
from shoemodel.config_registry import config_class


@pytest.mark.parametrize("command, section, key", [
    (["generate"], "generate", "n"), (["demo"], "demo", "port"), (["browse"], "browse", "port"),
    (["annotate", "ml-backend"], "annotation", "ml_backend.port"),
])
def test_help_names_the_dataclass_default(command: list[str], section: str, key: str) -> None:
    value = config_class(section)()
    for part in key.split("."):
        value = getattr(value, part)
    r = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert f"[params.yaml: {section}.{key}, default {value}]" in " ".join(r.output.split())
