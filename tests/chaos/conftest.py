"""Chaos suite plumbing: skip the big (``slow``) variants unless asked, isolate the CLI's files.

The long variants of every scenario carry ``@pytest.mark.slow``. CI runs the
small ones: unless ``-m`` names ``slow`` (e.g. ``pytest -m slow``) or
``JOBCTL_SLOW=1`` is set, slow items under ``tests/chaos`` are skipped here,
so ``pyproject.toml`` needs no change.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
_ENV = (
    "JOBCTL_URL",
    "JOBCTL_TOKEN",
    "JOBCTL_PROFILE",
    "JOBCTL_PROGRESS",
    "JOBCTL_TIMEOUT",
    "JOBCTL_CONFIG",
    "JOBCTL_STATE_DIR",
    "JOBCTL_WEBHOOK_SECRET",
    "NO_COLOR",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
)


def slow_requested(config: pytest.Config) -> bool:
    """True when the run asked for the slow variants.

    Args:
        config: the pytest config (its ``-m`` expression is read).
    """
    if os.environ.get("JOBCTL_SLOW", "") == "1":
        return True
    expr = str(config.getoption("markexpr", default="") or "")
    return "slow" in expr.replace("not slow", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the slow chaos variants unless ``-m slow`` or ``JOBCTL_SLOW=1``.

    Args:
        config: the pytest config.
        items: every collected item (only those under tests/chaos are touched).
    """
    if slow_requested(config):
        return
    skip = pytest.mark.skip(reason="big variant: run with -m slow or JOBCTL_SLOW=1")
    for item in items:
        if item.get_closest_marker("slow") and _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private config file and ledger dir per test; no inherited JOBCTL_* variables.

    Args:
        tmp_path: the test's directory.
        monkeypatch: pytest's monkeypatch.
    """
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "cfg" / "config.toml"))
    monkeypatch.setenv("JOBCTL_STATE_DIR", str(tmp_path / "state"))
    yield tmp_path
