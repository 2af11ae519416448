"""The reference server under benchmark: ``jobctl.testing.ReferenceServer`` with bench settings.

The launcher is the tests' one (a subprocess started through ``python -m
mock_server``, its ready line, SIGTERM/SIGKILL); a row adds what it measures
with: a user and an admin token of its own, many workers, no request log, extra
flags, a shared Redis store, the process id (to read its memory and CPU), and a
scratch directory under the run's workdir for downloads.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from jobctl.testing import ReferenceServer

__all__ = ["ADMIN_TOKEN", "USER_TOKEN", "BenchServer", "server_cpu_seconds"]

USER_TOKEN = "bench-user-token"
ADMIN_TOKEN = "bench-admin-token"
SERVER_MODULE = "mock_server"
"""The module run as the server (named in the report's environment)."""


class BenchServer:
    """The reference server on a free loopback port with a temporary database.

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
        self.dir = Path(tempfile.mkdtemp(prefix="jobctl-bench-", dir=workdir))
        args = ["--workers", str(workers), "--quiet", *extra]
        if store is not None:
            args += ["--results-dir", str(results_dir or self.dir / "results")]
        self.server = ReferenceServer(
            db=self.dir / "jobs.db",
            args=args,
            tokens={"user": USER_TOKEN, "admin": ADMIN_TOKEN},
            admins=("admin",),
            store=store,
            redis_prefix="",  # the deployment's workers use no prefix either
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (once started)."""
        return self.server.url

    @property
    def port(self) -> int:
        """The port the server listens on (once started)."""
        return self.server.port

    @property
    def pid(self) -> int:
        """The server's process id."""
        pid = self.server.pid
        assert pid is not None
        return pid

    def start(self) -> BenchServer:
        """Start the server and wait for its ready line (20 s at most)."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and delete its directory."""
        self.server.stop()
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
