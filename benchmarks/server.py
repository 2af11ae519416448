"""The reference server under benchmark: a subprocess on loopback with the flags a row needs.

``jobctl.testing.ReferenceServer`` is made for tests; the benchmarks start
``python -m mock_server`` themselves because they need the server's process id
(to read its memory) and flags such as many workers and no request log.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

__all__ = ["ADMIN_TOKEN", "USER_TOKEN", "BenchServer", "server_cpu_seconds"]

USER_TOKEN = "bench-user-token"
ADMIN_TOKEN = "bench-admin-token"
_READY = "jobctl reference server listening on "
SERVER_MODULE = "mock_server"
"""The module run as the server (named in the report's environment)."""


class BenchServer:
    """``python -m mock_server`` on a free loopback port with a temporary database.

    Args:
        workers: jobs the server runs at once (0 with ``store``: an API-only process).
        extra: more flags (e.g. ``("--keepalive", "2")``).
        workdir: where the temporary directory goes.
        store: ``redis://HOST:PORT/DB`` to use a shared Redis store instead of SQLite.
        results_dir: the results directory shared by a Redis deployment's processes.
    """

    def __init__(
        self,
        *,
        workers: int = 8,
        extra: Sequence[str] = (),
        workdir: Path,
        store: str | None = None,
        results_dir: Path | None = None,
    ) -> None:
        self.workers = workers
        self.extra = tuple(extra)
        self.store = store
        self.results_dir = results_dir
        self.dir = Path(tempfile.mkdtemp(prefix="jobctl-bench-", dir=workdir))
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "server.log"

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> BenchServer:
        """Start the server and wait for its ready line (20 s at most)."""
        cmd = [
            sys.executable,
            "-m",
            SERVER_MODULE,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *self._store_flags(),
            "--token",
            f"user:{USER_TOKEN}",
            "--token",
            f"admin:{ADMIN_TOKEN}",
            "--admin",
            "admin",
            "--workers",
            str(self.workers),
            "--quiet",
            *self.extra,
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline:
            for line in self.log.read_text("utf-8", "replace").splitlines():
                if line.startswith(_READY):
                    self.url = line[len(_READY) :].strip().rstrip("/")
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        tail = self.log.read_text("utf-8", "replace")[-1500:]
        self.stop()
        raise RuntimeError(f"the reference server did not start:\n{tail}")

    @property
    def port(self) -> int:
        """The port the server listens on (once started)."""
        return int(self.url.rsplit(":", 1)[1])

    def _store_flags(self) -> list[str]:
        if self.store is None:
            return ["--db", str(self.dir / "jobs.db")]
        results = self.results_dir or self.dir / "results"
        return ["--store", self.store, "--results-dir", str(results)]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and delete its directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- admin helpers -------------------------------------------------------
    def headers(self, admin: bool = False) -> dict[str, str]:
        """An Authorization header (the user's, or the admin's).

        Args:
            admin: use the admin token.
        """
        return {"Authorization": f"Bearer {ADMIN_TOKEN if admin else USER_TOKEN}"}

    def stats(self) -> dict[str, Any]:
        """``GET /api/_stats`` (admin)."""
        reply = httpx.get(f"{self.url}/api/_stats", headers=self.headers(admin=True), timeout=30)
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data

    def reset_stats(self) -> None:
        """``DELETE /api/_stats`` (admin)."""
        reply = httpx.delete(f"{self.url}/api/_stats", headers=self.headers(admin=True), timeout=30)
        reply.raise_for_status()

    def submit(self, type_: str, input_: dict[str, Any]) -> dict[str, Any]:
        """Submit a job as the user with plain httpx; the 202 body.

        Args:
            type_: the job type.
            input_: its input.
        """
        reply = httpx.post(
            f"{self.url}/api/jobs",
            json={"type": type_, "input": input_},
            headers=self.headers(),
            timeout=30,
        )
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    def wait_status(
        self, job_id: str, status: str = "completed", limit: float = 600
    ) -> dict[str, Any]:
        """Poll (every 0.2 s) until the job reaches ``status``; its body.

        Args:
            job_id: the job.
            status: the status to wait for.
            limit: seconds before giving up.
        """
        deadline = time.monotonic() + limit
        with httpx.Client(headers=self.headers(), timeout=30) as client:
            while time.monotonic() < deadline:
                body: dict[str, Any] = client.get(f"{self.url}/api/jobs/{job_id}").json()
                if body.get("status") == status:
                    return body
                if body.get("status") in ("failed", "cancelled"):
                    raise RuntimeError(f"job {job_id} ended {body.get('status')}")
                time.sleep(0.2)
        raise RuntimeError(f"job {job_id} did not reach {status} in {limit:.0f}s")


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (from ``/proc/PID/stat``).

    Args:
        pid: the process id.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")
