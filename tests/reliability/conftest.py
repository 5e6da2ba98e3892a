"""Reliability tests: the bad-input corpus, made here from small files, and the stale-resume cases."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest


class CountingModel:
    """Wraps a stage's model and counts the images each call is given (the test's measure of work redone)."""

    def __init__(self, model: Any, counts: Counter, kind: str):
        self._model, self._counts, self._kind = model, counts, kind

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._model, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            first = args[0] if args else None
            self._counts[self._kind] += len(first) if isinstance(first, list) else 1
            return attr(*args, **kw)

        return call


@pytest.fixture
def model_calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counter of images given to each curation stage's model (inline runs)."""
    from shoemodel.curation import models

    counts: Counter = Counter()
    real = models.cached
    monkeypatch.setattr(models, "cached", lambda kind, cfg, build: CountingModel(real(kind, cfg, build), counts, kind))
    return counts


@pytest.fixture(scope="session")
def mediapipe_installed() -> None:
    pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 not installed (pip install --no-deps mediapipe==0.10.21)")


@pytest.fixture(scope="session")
def photo_config():
    """(work_dir, sources, yolox or None) -> the curation tests' config for real photos."""
    from tests.curation.conftest import _photo_config

    return _photo_config
