"""Test helpers for the reference server's Redis store: a throwaway Redis and worker processes.

``RedisServer`` runs Debian's ``redis-server`` on a free loopback port in a
temporary directory, with persistence off (``--save '' --appendonly no``).
``ReferenceWorker`` runs ``python -m mock_server worker`` on such a store, so a
test can assemble a deployment of several API processes
(``ReferenceServer(store=..., args=("--workers", "0"))``) and worker processes,
and kill a worker with SIGKILL. Standard library only.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["RedisServer", "ReferenceWorker", "redis_server_available"]

_WORKER_READY = "jobctl reference worker running "
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


def redis_server_available() -> bool:
    """Whether ``redis-server`` is on PATH."""
    return shutil.which("redis-server") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Process:
    """A subprocess with a log file in a temp dir, started until a ready line shows."""

    def __init__(self, startup_timeout: float) -> None:
        self.startup_timeout = startup_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="jobctl-proc-"))
        self.log_path = self.dir / "process.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._proc.pid if self.running and self._proc is not None else None

    def _launch(self, cmd: list[str], ready: str) -> str:
        self._log = self.log_path.open("ab")
        start_at = self._log.tell()
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=self._log, stderr=self._log, cwd=self.dir
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
        raise RuntimeError(f"{cmd[0]} did not start:\n{tail}")

    def _end(self, sig: signal.Signals) -> None:
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
        """SIGKILL the process (a crash)."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM the process and remove its temp dir."""
        self._end(signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class RedisServer(_Process):
    """A throwaway ``redis-server`` on a free loopback port (no persistence).

    Args:
        startup_timeout: seconds to wait until it accepts connections.
    """

    def __init__(self, *, startup_timeout: float = 20.0) -> None:
        super().__init__(startup_timeout)
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
                self._launch(cmd, "Ready to accept connections")
            except RuntimeError as exc:
                error = exc
                continue
            self.url = f"redis://127.0.0.1:{self.port}/0"
            return self
        raise RuntimeError(f"redis-server did not start: {error}")

    def __enter__(self) -> RedisServer:
        return self.start()


class ReferenceWorker(_Process):
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
        super().__init__(startup_timeout)
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
            self._launch(self.command(), _WORKER_READY)
        return self

    def __enter__(self) -> ReferenceWorker:
        return self.start()
