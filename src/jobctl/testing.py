"""Test helpers: the reference server, its Redis store and worker processes, as subprocesses.

``ReferenceServer`` runs the bundled reference server (``python -m mock_server``)
on a free loopback port with a temporary SQLite database, so it can be killed
with SIGKILL and restarted on the same database and port. With
``store="redis://..."`` it keeps its state in Redis under its own key prefix
(``redis_prefix``, random by default), so several servers share one Redis
without seeing each other's jobs, and a server given another's prefix joins its
deployment. ``RedisServer`` is a throwaway ``redis-server``; ``ReferenceWorker``
runs ``python -m mock_server worker`` on it.

All three are one launcher (``_Child``): start the command, wait for its ready
line in its log, stop it with SIGTERM (SIGKILL after 10 s) or kill it. Children
get a stdin pipe and end when it closes, so a killed test run leaves nothing
behind. This module imports only the standard library and never ``mock_server``:
the server is only ever a process started through its command line.

Fixtures (registered through the ``pytest11`` entry point):
``reference_server`` (one server per test) and ``reference_server_session``
(one per test session).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = [
    "DEFAULT_TOKENS",
    "RedisServer",
    "ReferenceServer",
    "ReferenceServerError",
    "ReferenceWorker",
    "redis_server_available",
]

DEFAULT_TOKENS: dict[str, str] = {
    "alice": "alice-token",
    "bob": "bob-token",
    "admin": "admin-token",
}
_READY = "jobctl reference server listening on "
_WORKER_READY = "jobctl reference worker running "
_REDIS_READY = "Ready to accept connections"
# Runs redis-server as its child and ends it when stdin closes (the test run is gone) or on
# SIGTERM, so a killed test run never leaves a Redis behind.
_GUARD = """
import signal, subprocess, sys, threading
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
def watch():
    while sys.stdin.buffer.read(4096):
        pass
    child.terminate()
threading.Thread(target=watch, daemon=True).start()
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
sys.exit(child.wait())
"""


class ReferenceServerError(RuntimeError):
    """A process did not start (the message includes the end of its log)."""


def redis_server_available() -> bool:
    """Whether ``redis-server`` is on PATH."""
    return shutil.which("redis-server") is not None


class _Child:
    """The one launcher: a child process logging to a file in its own temporary directory.

    Args:
        what: how errors name it (``"the reference server"``).
        startup_timeout: seconds to wait for the ready line.
        prefix: the temporary directory's name prefix.
        log_name: the log file's name in that directory.
    """

    def __init__(self, what: str, startup_timeout: float, prefix: str, log_name: str) -> None:
        self.what = what
        self.startup_timeout = startup_timeout
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.log_path: Path | None = self.dir / log_name
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    def _launch(self, cmd: list[str], ready: str, cwd: Path | None = None) -> str:
        """Start ``cmd`` and wait until a log line contains ``ready``; returns that line."""
        assert self.log_path is not None
        self.dir.mkdir(parents=True, exist_ok=True)  # again after a stop
        self._log = self.log_path.open("ab")
        start_at = self._log.tell()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,  # closed when this process ends: the child then exits
            stdout=self._log,
            stderr=self._log,
            cwd=cwd,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[start_at:].decode("utf-8", "replace")
            for line in text.splitlines():
                if ready in line:
                    return line
            if self._proc.poll() is not None:
                break
            time.sleep(0.02)
        tail = self.log_path.read_bytes()[start_at:].decode("utf-8", "replace")[-2000:]
        self._end(signal.SIGKILL)
        raise ReferenceServerError(f"{self.what} did not start:\n{tail}")

    def _end(self, sig: signal.Signals) -> None:
        """Send ``sig`` and wait (SIGKILL after 10 s); close its stdin and the log."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(sig)
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            if self._proc.stdin is not None:
                with contextlib.suppress(OSError):
                    self._proc.stdin.close()
            self._proc = None
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL the process (a crash); its files are kept."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM the process and remove its temporary directory."""
        self._end(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ReferenceServer(_Child):
    """The reference server on a free loopback port, for tests, demos and benchmarks.

    Args:
        db: SQLite path; None makes a temporary one (deleted by ``stop``).
        args: extra command-line flags, e.g. ``("--workers", "2", "--redirect-completed")``.
        tokens: user -> token (default: alice, bob and admin with ``<user>-token``).
        admins: users who are admins.
        startup_timeout: seconds to wait for the server to be ready.
        store: ``redis://HOST:PORT/DB`` to use the Redis store instead of SQLite ``db``.
        redis_prefix: key prefix on that store (default: a fresh random one).
    """

    def __init__(
        self,
        *,
        db: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        tokens: Mapping[str, str] | None = None,
        admins: Sequence[str] = ("admin",),
        startup_timeout: float = 20.0,
        store: str | None = None,
        redis_prefix: str | None = None,
    ) -> None:
        super().__init__("the reference server", startup_timeout, "jobctl-server-", "server.log")
        self.store = store
        self.redis_prefix = (
            redis_prefix if redis_prefix is not None else f"t{uuid.uuid4().hex[:12]}:"
        )
        self.tokens: dict[str, str] = dict(tokens if tokens is not None else DEFAULT_TOKENS)
        self.admins = tuple(admins)
        self.args = tuple(args)
        self.db_path = str(self.dir / "jobs.db") if db is None else str(db)
        self.port = 0
        self.url = ""

    def __repr__(self) -> str:
        where = f"db={self.db_path!r}" if self.store is None else f"prefix={self.redis_prefix!r}"
        return f"ReferenceServer(url={self.url!r}, {where})"

    @property
    def token(self) -> str:
        """The first user's token (alice's with the default tokens)."""
        return self.tokens.get("alice") or next(iter(self.tokens.values()))

    @property
    def admin_token(self) -> str:
        """The first admin's token."""
        for user in self.admins:
            if user in self.tokens:
                return self.tokens[user]
        raise KeyError("no admin user has a token")

    def headers(self, user: str | None = None) -> dict[str, str]:
        """An Authorization header for ``user`` (default: the first user).

        Args:
            user: a user name from ``tokens``.
        """
        token = self.tokens[user] if user is not None else self.token
        return {"Authorization": f"Bearer {token}"}

    def command(self) -> list[str]:
        """The argv of the server process."""
        cmd = [sys.executable, "-m", "mock_server", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--db", self.db_path]
        for user, token in self.tokens.items():
            cmd += ["--token", f"{user}:{token}"]
        for user in self.admins:
            cmd += ["--admin", user]
        if self.store is not None:
            cmd += ["--store", self.store, "--redis-prefix", self.redis_prefix]
            if "--results-dir" not in self.args:  # beside the (unused) db, as with SQLite
                cmd += [
                    "--results-dir",
                    str(Path(self.db_path).resolve().parent / "jobctl-results"),
                ]
        return [*cmd, "--stop-on-stdin-eof", *self.args]

    def start(self) -> ReferenceServer:
        """Start the server and wait until it listens; returns self."""
        if not self.running:
            line = self._launch(self.command(), _READY)
            self.url = line.split(_READY, 1)[1].strip().rstrip("/")
            self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def stop(self) -> None:
        """Stop the server gracefully; remove the temporary database (if it made one) and log."""
        super().stop()

    def restart(self) -> ReferenceServer:
        """Stop (if running) and start again on the same database and the same port."""
        self._end(signal.SIGTERM)
        return self.start()

    def __enter__(self) -> ReferenceServer:
        return self.start()


class RedisServer(_Child):
    """A throwaway ``redis-server`` on a free loopback port (no persistence).

    Args:
        startup_timeout: seconds to wait until it accepts connections.
    """

    def __init__(self, *, startup_timeout: float = 20.0) -> None:
        super().__init__("redis-server", startup_timeout, "jobctl-proc-", "process.log")
        self.port = 0
        self.url = ""

    def __repr__(self) -> str:
        return f"RedisServer(url={self.url!r})"

    def start(self) -> RedisServer:
        """Start it (trying another port if the free one was taken meanwhile); returns self."""
        if not redis_server_available():
            raise RuntimeError("redis-server is not on PATH (Debian: apt-get install redis-server)")
        error: Exception | None = None
        for _ in range(3):
            self.port = _free_port()
            cmd = [sys.executable, "-c", _GUARD, "redis-server", "--port", str(self.port)]
            cmd += ["--bind", "127.0.0.1"]
            cmd += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
            try:
                self._launch(cmd, _REDIS_READY, cwd=self.dir)
            except ReferenceServerError as exc:
                error = exc
                continue
            self.url = f"redis://127.0.0.1:{self.port}/0"
            return self
        raise RuntimeError(f"redis-server did not start: {error}")

    def __enter__(self) -> RedisServer:
        return self.start()


class ReferenceWorker(_Child):
    """``python -m mock_server worker`` on a Redis store, as a subprocess.

    Args:
        store: ``redis://HOST:PORT/DB``.
        redis_prefix: the key prefix of the deployment (the same as its API processes').
        workers: jobs run at once in this process.
        args: more flags (e.g. ``("--visibility-timeout", "1", "--results-dir", d)``).
        startup_timeout: seconds to wait for the ready line.
    """

    def __init__(
        self,
        store: str,
        *,
        redis_prefix: str = "",
        workers: int = 2,
        args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        super().__init__("the reference worker", startup_timeout, "jobctl-proc-", "process.log")
        self.store = store
        self.redis_prefix = redis_prefix
        self.workers = workers
        self.args = tuple(args)

    def __repr__(self) -> str:
        return f"ReferenceWorker(pid={self.pid}, workers={self.workers})"

    def command(self) -> list[str]:
        """The argv of the worker process."""
        cmd = [sys.executable, "-m", "mock_server", "worker", "--store", self.store]
        cmd += ["--redis-prefix", self.redis_prefix, "--workers", str(self.workers)]
        return [*cmd, "--stop-on-stdin-eof", "--quiet", *self.args]

    def start(self) -> ReferenceWorker:
        """Start the worker process and wait for its ready line; returns self."""
        if not self.running:
            self._launch(self.command(), _WORKER_READY, cwd=self.dir)
        return self

    def __enter__(self) -> ReferenceWorker:
        return self.start()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_iter() -> Iterator[ReferenceServer]:
    server = ReferenceServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


if "pytest" in sys.modules:  # loaded as a pytest plugin: define the fixtures
    import pytest as _pytest

    @_pytest.fixture
    def reference_server() -> Iterator[ReferenceServer]:
        """A fresh reference server (subprocess, temp database) for one test."""
        yield from _server_iter()

    @_pytest.fixture(scope="session")
    def reference_server_session() -> Iterator[ReferenceServer]:
        """One reference server shared by the whole test session."""
        yield from _server_iter()
