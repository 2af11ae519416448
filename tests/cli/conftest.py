"""Isolate every CLI test from the user's real config, state dir and environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobctl.testing import ReferenceServer

JOBCTL = str(Path(sys.executable).with_name("jobctl"))

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


@dataclass
class Run:
    code: int
    out: str
    err: str


Cli = Callable[..., Run]


@pytest.fixture
def cli(reference_server_session: ReferenceServer, isolated_env: Path) -> Cli:
    """Run jobctl as alice against the session's server, in a private state/config dir."""
    env = dict(os.environ)
    env.update(
        JOBCTL_URL=reference_server_session.url,
        JOBCTL_TOKEN=reference_server_session.token,
        TERM="xterm-256color",  # not dumb: plain output must come from "not a TTY" alone
    )

    def run(*args: str, input: str | None = None, timeout: float = 60) -> Run:
        proc = subprocess.run(
            [JOBCTL, *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            cwd=isolated_env,
            timeout=timeout,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    run.env = env  # type: ignore[attr-defined]
    return run
