"""Capacity of a running reference-server deployment: status GETs per second and SSE followers.

Shared by the ``server`` row (SQLite, one process) and the ``redis`` row (one or
two API processes on one Redis). A deployment is its API ports (client
connections go round-robin over them) and the process ids whose memory is the
server's. The load generator and the followers run in a child process
(``benchmarks.child``, raw asyncio sockets, see ``loadgen.py``) so that the
client's cost is not the server's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .common import Row, Settings, rss_mib, run_child
from .server import USER_TOKEN, server_cpu_seconds

__all__ = ["SAME_RUN", "Deployment", "Held", "follower_rows", "hold_followers", "load_rate"]

SAME_RUN: dict[str, float] = {}
"""Figures a row leaves for later rows of the same run (``sqlite_status_rate``)."""


@dataclass(frozen=True)
class Deployment:
    """Where to send the load, and which processes' memory to read.

    Args:
        ports: the API processes' loopback ports (connections go round-robin).
        pids: the API processes' ids (their RSS is summed).
    """

    ports: tuple[int, ...]
    pids: tuple[int, ...]

    def rss_mib(self) -> float:
        """The API processes' resident memory, summed, in MiB."""
        return sum(rss_mib(pid) for pid in self.pids)

    def cpu_seconds(self) -> float:
        """The API processes' CPU time (user + system), summed, in seconds."""
        return sum(server_cpu_seconds(pid) for pid in self.pids)


@dataclass(frozen=True)
class Held:
    """What the followers child reported, and the server's memory before and while held.

    Args:
        requested: followers asked for.
        opened: streams that answered 200.
        with_keepalive: open streams that received at least one keepalive comment.
        ended_early: streams the server closed before the hold ended.
        held_seconds: how long they were held.
        before_mib: the deployment's RSS before the followers connected.
        during_mib: its RSS once they were all open.
    """

    requested: int
    opened: int
    with_keepalive: int
    ended_early: int
    held_seconds: float
    before_mib: float
    during_mib: float

    @property
    def all_held(self) -> bool:
        """Every requested follower opened and received keepalives."""
        return self.opened == self.requested and self.with_keepalive == self.requested

    @property
    def kib_per_follower(self) -> float:
        """The memory the followers added, per open follower, in KiB."""
        if not self.opened:
            return float("nan")
        return (self.during_mib - self.before_mib) / self.opened * 1024


def load_rate(deployment: Deployment, path: str, settings: Settings) -> dict[str, Any]:
    """One load-generator run of ``GET path``: its rate, errors and the server's CPU use.

    The result has ``rate``, ``errors``, ``non_200`` and ``server_cores`` (the API
    processes' CPU seconds per wall second during the run).

    Args:
        deployment: the API processes to load.
        path: the URL path (e.g. a job's status URL).
        settings: duration (``load_seconds``) and connections (``load_concurrency``).
    """
    params = {
        "host": "127.0.0.1",
        "ports": list(deployment.ports),
        "token": USER_TOKEN,
        "path": path,
        "seconds": settings.load_seconds,
        "concurrency": settings.load_concurrency,
        "max_requests": 2_000_000,
    }
    cpu, started = deployment.cpu_seconds(), time.monotonic()
    result = run_child("load", params, settings.load_seconds + 120)
    result["server_cores"] = (deployment.cpu_seconds() - cpu) / (time.monotonic() - started)
    return result


def hold_followers(deployment: Deployment, paths: Sequence[str], settings: Settings) -> Held:
    """Hold ``settings.followers`` event streams for ``hold_seconds``; memory read while held.

    Args:
        deployment: the API processes to follow through.
        paths: event-stream paths, used in turn.
        settings: ``followers`` and ``hold_seconds``.
    """
    params = {
        "host": "127.0.0.1",
        "ports": list(deployment.ports),
        "token": USER_TOKEN,
        "paths": list(paths),
        "count": settings.followers,
        "hold_seconds": settings.hold_seconds,
    }
    before = deployment.rss_mib()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.child", "followers"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(params).encode())
    proc.stdin.close()
    during = before
    lines: list[str] = []
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            lines.append(line)
            if line.startswith("OPEN "):
                time.sleep(min(1.0, settings.hold_seconds / 4))
                during = deployment.rss_mib()
        proc.wait(timeout=settings.hold_seconds + 180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or not lines:
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        raise RuntimeError(f"followers child exited {proc.returncode}: {err[-800:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return Held(
        requested=int(result["requested"]),
        opened=int(result["opened"]),
        with_keepalive=int(result["with_keepalive"]),
        ended_early=int(result["ended_early"]),
        held_seconds=float(result["held_seconds"]),
        before_mib=before,
        during_mib=during,
    )


def follower_rows(row: str, label: str, held: Held, settings: Settings) -> list[Row]:
    """The two rows of a followers measurement: how many were held, and memory per follower.

    Args:
        row: the row id (``server``, ``redis``).
        label: what was measured, e.g. ``reference server`` or ``Redis store, 2 API processes``.
        held: the measurement.
        settings: the run's settings (``followers``, ``keepalive``).
    """
    return [
        Row(
            row,
            f"{label}: SSE followers held {held.held_seconds:.0f} s "
            f"(keepalive every {settings.keepalive:g} s)",
            f"{held.opened}/{held.requested} open, {held.with_keepalive} got keepalives",
            "—",
            None,
            f"{held.ended_early} ended early",
            f"{settings.followers} held",
            held.all_held,
        ),
        Row(
            row,
            f"{label}: memory per SSE follower",
            f"{held.kib_per_follower:.0f} KiB",
            f"server RSS {held.before_mib:.0f} MiB before, {held.during_mib:.0f} MiB held",
            None,
            "one run",
            "— (trend)",
            None,
        ),
    ]
