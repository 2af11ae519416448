"""Isolate every CLI test from the user's real config, state dir and environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

_ENV = (
    "JOBCTL_URL",
    "JOBCTL_TOKEN",
    "JOBCTL_PROFILE",
    "JOBCTL_PROGRESS",
    "JOBCTL_TIMEOUT",
    "JOBCTL_CONFIG",
    "JOBCTL_STATE_DIR",
    "NO_COLOR",
    "CI",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private config file and ledger dir per test; no inherited JOBCTL_* variables."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "cfg" / "config.toml"))
    monkeypatch.setenv("JOBCTL_STATE_DIR", str(tmp_path / "state"))
    yield tmp_path
