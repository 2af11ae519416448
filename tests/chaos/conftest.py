"""Chaos suite plumbing: isolate the CLI's files.

The long variants of every scenario carry ``@pytest.mark.slow``; ``tests/conftest.py``
skips them unless ``-m slow`` or ``JOBCTL_SLOW=1``.
"""

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
    "JOBCTL_WEBHOOK_SECRET",
    "NO_COLOR",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
)


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
