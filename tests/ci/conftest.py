"""The CI tests: a private config, ledger and working directory per test, and a fake CI
runner that runs the real ``jobctl`` with the variables and files a runner provides."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobctl.testing import ReferenceServer


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private config file and ledger dir per test; no inherited JOBCTL_* variables."""
    for name in ("JOBCTL_URL", "JOBCTL_TOKEN", "JOBCTL_PROFILE", "JOBCTL_PROGRESS", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "cfg" / "config.toml"))
    monkeypatch.setenv("JOBCTL_STATE_DIR", str(tmp_path / "state"))
    yield tmp_path


JOBCTL = str(Path(sys.executable).with_name("jobctl"))


@dataclass
class Ran:
    """A finished ``jobctl`` and what the fake runner's files hold after it."""

    code: int
    out: str
    err: str
    output: str  # $GITHUB_OUTPUT
    summary: str  # $GITHUB_STEP_SUMMARY


class FakeRunner:
    """Runs the real ``jobctl`` as a CI runner would: its variables set, its files in a
    temporary directory (a new output file per step, one summary file per step).

    Args:
        system: ``github``, ``gitlab`` or None (no CI variables).
        url: the API.
        token: the token.
        home: a private directory (config, ledger, runner files; the working directory).
    """

    def __init__(self, system: str | None, url: str, token: str, home: Path) -> None:
        self.home = home
        self.files = home / "runner"
        self.files.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
        self.env.update(
            JOBCTL_URL=url,
            JOBCTL_TOKEN=token,
            JOBCTL_CONFIG=str(home / "cfg" / "config.toml"),
            JOBCTL_STATE_DIR=str(home / "state"),
            TERM="xterm-256color",
        )
        if system == "github":
            self.env.update(
                GITHUB_ACTIONS="true",
                CI="true",
                GITHUB_OUTPUT=str(self.files / "output"),
                GITHUB_STEP_SUMMARY=str(self.files / "summary"),
            )
        elif system == "gitlab":
            self.env.update(GITLAB_CI="true", CI="true")

    def _read(self, name: str) -> str:
        path = self.files / name
        return path.read_bytes().decode("utf-8") if path.exists() else ""

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``jobctl ARGS`` (stdout and stderr captured as bytes: a CR stays a CR)."""
        return subprocess.Popen(
            [JOBCTL, *args],
            env=self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def finish(self, proc: subprocess.Popen[bytes], timeout: float = 60) -> Ran:
        """Wait for a started ``jobctl``; a new step's output file for the next one."""
        out, err = (b.decode("utf-8") for b in proc.communicate(timeout=timeout))
        ran = Ran(proc.returncode, out, err, self._read("output"), self._read("summary"))
        (self.files / "output").unlink(missing_ok=True)  # the next step gets its own file
        (self.files / "summary").unlink(missing_ok=True)
        return ran

    def __call__(self, *args: str, timeout: float = 60) -> Ran:
        """Run ``jobctl ARGS`` to its end."""
        return self.finish(self.start(*args), timeout)


@pytest.fixture
def runners(
    reference_server_session: ReferenceServer, isolated_env: Path
) -> Callable[[str | None], FakeRunner]:
    """Make a fake runner of a CI system against the session's reference server."""
    server = reference_server_session
    return lambda system: FakeRunner(system, server.url, server.token, isolated_env)
