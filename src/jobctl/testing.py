"""Test helpers: ``ReferenceServer`` and the pytest fixtures of the ``jobctl`` plugin.

``ReferenceServer`` runs the bundled reference server (``python -m mock_server``)
on a free loopback port with a temporary SQLite database, as a subprocess by
default (so it can be killed with SIGKILL and restarted on the same database)
or in a thread (``in_process=True``). This module imports only the standard
library; FastAPI is imported only when an in-process server starts.

Fixtures (registered through the ``pytest11`` entry point):
``reference_server`` (one server per test) and ``reference_server_session``
(one per test session).

With ``store="redis://..."`` the server keeps its state in Redis under its own key
prefix (``redis_prefix``, random by default), so several servers share one Redis
without seeing each other's jobs, and a server given another's prefix joins its
deployment; ``jobctl.testing_redis`` has a throwaway Redis and worker processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["DEFAULT_TOKENS", "ReferenceServer", "ReferenceServerError"]

DEFAULT_TOKENS: dict[str, str] = {
    "alice": "alice-token",
    "bob": "bob-token",
    "admin": "admin-token",
}
_READY = "jobctl reference server listening on "


class ReferenceServerError(RuntimeError):
    """The reference server did not start (the message includes the end of its log)."""


class ReferenceServer:
    """The reference server on a free loopback port, for tests and demos.

    Args:
        db: SQLite path; None makes a temporary one (deleted by ``stop``).
        args: extra command-line flags, e.g. ``("--workers", "2", "--redirect-completed")``.
        tokens: user -> token (default: alice, bob and admin with ``<user>-token``).
        admins: users who are admins.
        in_process: run uvicorn in a thread of this process instead of a subprocess.
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
        in_process: bool = False,
        startup_timeout: float = 20.0,
        store: str | None = None,
        redis_prefix: str | None = None,
    ) -> None:
        self.store = store
        self.redis_prefix = (
            redis_prefix if redis_prefix is not None else f"t{uuid.uuid4().hex[:12]}:"
        )
        self.tokens: dict[str, str] = dict(tokens if tokens is not None else DEFAULT_TOKENS)
        self.admins = tuple(admins)
        self.args = tuple(args)
        self.in_process = in_process
        self.startup_timeout = startup_timeout
        self._tmp: str | None = None
        self._tmp_logs: str | None = None
        if db is None:
            self._tmp = tempfile.mkdtemp(prefix="jobctl-server-")
            self.db_path = str(Path(self._tmp) / "jobs.db")
        else:
            self.db_path = str(db)
        self.port = 0
        self.url = ""
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None
        self._thread: threading.Thread | None = None
        self._uvicorn: Any = None

    def __repr__(self) -> str:
        mode = "in-process" if self.in_process else "subprocess"
        where = f"db={self.db_path!r}" if self.store is None else f"prefix={self.redis_prefix!r}"
        return f"ReferenceServer(url={self.url!r}, {where}, {mode})"

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

    @property
    def running(self) -> bool:
        """True while the server is up."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self._thread is not None and self._thread.is_alive()

    def headers(self, user: str | None = None) -> dict[str, str]:
        """An Authorization header for ``user`` (default: the first user).

        Args:
            user: a user name from ``tokens``.
        """
        token = self.tokens[user] if user is not None else self.token
        return {"Authorization": f"Bearer {token}"}

    def command(self) -> list[str]:
        """The argv of the server subprocess."""
        cmd = [
            sys.executable,
            "-m",
            "mock_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            self.db_path,
        ]
        for user, token in self.tokens.items():
            cmd += ["--token", f"{user}:{token}"]
        for user in self.admins:
            cmd += ["--admin", user]
        if self.store is not None:
            cmd += ["--store", self.store, "--redis-prefix", self.redis_prefix]
            if "--results-dir" not in self.args:  # beside the (unused) db, as with SQLite
                cmd += ["--results-dir", str(Path(self.db_path).resolve().parent / "results")]
        if not self.in_process:
            cmd.append("--stop-on-stdin-eof")
        return cmd + list(self.args)

    # ---- lifecycle -------------------------------------------------------------
    def start(self) -> ReferenceServer:
        """Start the server and wait until it answers; returns self."""
        if self.running:
            return self
        if self.in_process:
            self._start_thread()
        else:
            self._start_process()
        return self

    def _start_process(self) -> None:
        if self._tmp is None and self._tmp_logs is None:
            self._tmp_logs = tempfile.mkdtemp(prefix="jobctl-server-log-")
        log_dir = Path(self._tmp or self._tmp_logs or ".")
        self.log_path = log_dir / "server.log"
        self._log_file = self.log_path.open("ab")
        start_at = self._log_file.tell()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.PIPE,  # closed when this process ends: the server then exits
            stdout=self._log_file,
            stderr=self._log_file,
            env=env,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[start_at:].decode("utf-8", "replace")
            for line in text.splitlines():
                if line.startswith(_READY):
                    self.url = line[len(_READY) :].strip().rstrip("/")
                    self.port = int(self.url.rsplit(":", 1)[1])
                    return
            if self._proc.poll() is not None:
                break
            time.sleep(0.02)
        tail = self.log_path.read_bytes()[start_at:].decode("utf-8", "replace")[-2000:]
        self.kill()
        raise ReferenceServerError(f"the reference server did not start:\n{tail}")

    def _start_thread(self) -> None:
        import asyncio

        import uvicorn

        from mock_server.__main__ import KEEP_ALIVE, bind, build_parser, config_from_args, url_of
        from mock_server.app import create_app

        flags = [*self.command()[3:], "--quiet"]
        config = config_from_args(build_parser().parse_args(flags))
        sock = bind("127.0.0.1", self.port)
        self.url = url_of(sock)
        self.port = sock.getsockname()[1]
        uv = uvicorn.Config(
            create_app(config),
            log_config=None,
            access_log=False,
            http="h11",
            loop="asyncio",
            lifespan="on",
            timeout_graceful_shutdown=2,
            timeout_keep_alive=KEEP_ALIVE,
        )
        server = uvicorn.Server(uv)
        self._uvicorn = server

        def run() -> None:
            asyncio.run(server.serve(sockets=[sock]))

        self._thread = threading.Thread(target=run, name="jobctl-reference-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ReferenceServerError("the in-process reference server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server gracefully and remove the temporary database, if it made one."""
        self._shutdown(graceful=True)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._tmp_logs is not None:
            shutil.rmtree(self._tmp_logs, ignore_errors=True)
            self._tmp_logs = None

    def kill(self) -> None:
        """SIGKILL the server process (subprocess mode): a crash; the database is kept."""
        if self.in_process:
            self._shutdown(graceful=False)
            return
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGKILL)
                self._proc.wait()
            self._close_pipe()
            self._proc = None
        self._close_log()

    def restart(self) -> ReferenceServer:
        """Stop (if running) and start again on the same database and the same port."""
        self._shutdown(graceful=True)
        return self.start()

    def _shutdown(self, *, graceful: bool) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._close_pipe()
            self._proc = None
            self._close_log()
        if self._thread is not None and self._uvicorn is not None:
            self._uvicorn.should_exit = True
            if not graceful:
                self._uvicorn.force_exit = True
            self._thread.join(timeout=10)
            self._thread = None
            self._uvicorn = None

    def _close_pipe(self) -> None:
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()

    def _close_log(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


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
