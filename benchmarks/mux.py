"""Part of row 7 (``server``): the memory a multiplexed stream costs per followed job.

A server of its own (the per-job followers measured before on the row's server
leave freed memory that a later measurement would reuse unseen), with
``mux_jobs`` long sleep jobs (two run, the rest stay pending: all are live, so
every one is followed). Its RSS is read, then ``_STREAMS`` WebSockets
(``GET /api/ws``) each subscribe to all the jobs and are read until each has had
a snapshot of every job, and the RSS is read again while they are held. The
difference per followed job and stream is set against the per-job stream's
memory per follower, measured on the row's server in the same run: the issue's
target is at most 0.1x. Several streams make the figure larger than the noise of
memory freed by the submits. ``GET /api/events?job=...`` keeps the same per-job
state (one ``Feed``), but 10,000 ids do not fit in a URL httpx sends (64 KiB).
The streams are read here, in the benchmark's process: only the server's memory
is measured.
"""

from __future__ import annotations

import contextlib
import json
import time

import httpx
from websockets.sync.client import connect

from .capacity import Deployment, Held
from .common import Row, Settings
from .server import BenchServer

__all__ = ["mux_rows"]

_TARGET = 0.1
_STREAMS = 10


def _submit_many(server: BenchServer, count: int, seconds: float) -> list[str]:
    body = {"type": "sleep", "input": {"seconds": seconds, "steps": 1}}
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as client:
        return [str(client.post("/api/jobs", json=body).json()["jobId"]) for _ in range(count)]


def _hold_streams(
    server: BenchServer, deployment: Deployment, jobs: list[str], streams: int
) -> float:
    """Subscribe ``streams`` WebSockets to ``jobs``, read a snapshot of each; the RSS held."""
    url = server.url.replace("http://", "ws://", 1) + "/api/ws"
    with contextlib.ExitStack() as stack:
        for _ in range(streams):
            ws = stack.enter_context(
                connect(url, additional_headers=server.headers(), max_size=None)
            )
            ws.send(json.dumps({"op": "subscribe", "jobs": jobs}))
            for _ in jobs:
                message = json.loads(ws.recv(timeout=120))
                if message["event"] == "error":
                    raise RuntimeError(f"subscribe refused: {message['error']}")
        time.sleep(1.0)
        return deployment.rss_mib()


def mux_rows(held: Held, settings: Settings) -> list[Row]:
    """Memory per followed job on multiplexed streams, and its ratio to a per-job stream's.

    Args:
        held: the per-job followers measured on the row's server.
        settings: ``mux_jobs``, ``keepalive``, ``workdir``.
    """
    streams = 2 if settings.quick else _STREAMS
    extra = ("--keepalive", f"{settings.keepalive:g}")
    with BenchServer(workers=2, extra=extra, workdir=settings.workdir) as server:
        deployment = Deployment(ports=(server.port,), pids=(server.pid,))
        jobs = _submit_many(server, settings.mux_jobs, 3600.0)
        time.sleep(1.0)
        before = deployment.rss_mib()
        during = _hold_streams(server, deployment, jobs, streams)
    per_job = (during - before) * 1024 / (len(jobs) * streams)
    ratio = per_job / held.kib_per_follower if held.kib_per_follower > 0 else float("nan")
    return [
        Row(
            "server",
            f"reference server: memory per followed job, multiplexed ({streams} WebSockets "
            f"following {len(jobs)} jobs each)",
            f"{per_job:.2f} KiB",
            f"per-job stream: {held.kib_per_follower:.0f} KiB per follower",
            ratio,
            f"server RSS {before:.0f} MiB before, {during:.0f} MiB held; one run",
            f"≤ {_TARGET:g}x",
            ratio <= _TARGET,
        )
    ]
