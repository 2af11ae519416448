"""Row 8: the reference server on the Redis store, with one and with two API processes.

One throwaway ``redis-server`` (loopback, no persistence), one worker process
(``python -m mock_server worker``) running the jobs, and three API processes
(``--workers 0``) sharing a results directory: S alone is the one-process
deployment, A and B the two-process one (S idles while A and B are measured and
the other way round). Jobs are submitted through A and seen running through B.
In each repetition the status-GET load generator runs once against S and once
with its connections spread round-robin over A and B; the ratio is two processes
/ one (same run, same jobs). The followers are held once through S and once
through A and B; memory per follower is the API processes' RSS (summed) while
held minus before, per open follower (redis-server's own memory is not counted).
Separate processes keep the second hold from reusing memory the first one grew.
When the ``server`` row ran earlier in the same run, one API process on Redis is
also compared with its SQLite figure.
Without ``redis-server`` on PATH the row says "skipped (no redis-server)".
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from jobctl.testing import RedisServer, ReferenceWorker

from .capacity import SAME_RUN, Deployment, follower_rows, hold_followers, load_rate
from .common import Row, Settings, fmt_ratio, median, spread
from .server import BenchServer

__all__ = ["redis_rows"]

_JOBS = 10


def redis_rows(settings: Settings) -> list[Row]:
    """Status GETs per second and SSE followers held, one vs two API processes on Redis.

    Args:
        settings: the run's settings (the ``load_*``, ``followers``, ``hold_seconds``,
            ``keepalive`` and ``reps`` of the server row).
    """
    if shutil.which("redis-server") is None:
        return [
            Row(
                "redis",
                "Redis store: status GETs/s and SSE followers, 1 vs 2 API processes",
                "skipped (no redis-server)",
                "—",
                None,
                "—",
                "— (trend)",
                None,
                "install Debian's redis-server to measure this row",
            )
        ]
    shared = Path(tempfile.mkdtemp(prefix="jobctl-bench-redis-", dir=settings.workdir))
    try:
        return _measure(settings, shared)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _measure(settings: Settings, shared: Path) -> list[Row]:
    results = shared / "results"
    results.mkdir()
    keepalive = ("--keepalive", f"{settings.keepalive:g}")

    def api_process(store: str) -> BenchServer:
        return BenchServer(
            workers=0, extra=keepalive, workdir=shared, store=store, results_dir=results
        )

    with RedisServer() as redis:
        worker_args = ("--results-dir", str(results))
        with (
            ReferenceWorker(redis.url, workers=_JOBS + 2, args=worker_args),
            api_process(redis.url) as solo,
            api_process(redis.url) as a,
            api_process(redis.url) as b,
        ):
            one = Deployment(ports=(solo.port,), pids=(solo.pid,))
            two = Deployment(ports=(a.port, b.port), pids=(a.pid, b.pid))
            long_job = 2 * settings.hold_seconds + 4 * settings.load_seconds * settings.reps + 300
            jobs = [
                a.submit("sleep", {"seconds": long_job, "steps": 1})["jobId"] for _ in range(_JOBS)
            ]
            b.wait_status(jobs[-1], status="processing", limit=120)
            one_rates, two_rates, ratios, errors = [], [], [], 0
            one_cores, two_cores = [], []
            for _ in range(settings.reps):
                runs = [load_rate(d, f"/api/jobs/{jobs[0]}", settings) for d in (one, two)]
                errors += sum(int(r["errors"]) + int(r["non_200"]) for r in runs)
                one_rates.append(float(runs[0]["rate"]))
                two_rates.append(float(runs[1]["rate"]))
                one_cores.append(float(runs[0]["server_cores"]))
                two_cores.append(float(runs[1]["server_cores"]))
                ratios.append(two_rates[-1] / one_rates[-1])
            streams = [f"/api/jobs/{j}/events" for j in jobs]
            held_one = hold_followers(one, streams, settings)
            held_two = hold_followers(two, streams, settings)
    conns = f"{settings.load_concurrency} keep-alive connections"
    cores = (
        f"API processes' CPU while loaded: 1 process {median(one_cores):.2f} cores, "
        f"2 processes {median(two_cores):.2f} cores (medians; the machine has "
        f"{os.cpu_count()} CPUs shared with redis-server, the worker and the load generator)"
    )
    sqlite = SAME_RUN.get("sqlite_status_rate")
    return [
        Row(
            "redis",
            f"Redis store: status GETs/s, 2 API processes ({conns}, round-robin)",
            f"{median(two_rates):.0f} req/s",
            f"1 API process: {median(one_rates):.0f} req/s",
            median(ratios),
            f"{spread(two_rates).text(lambda v: f'{v:.0f}')} req/s; ratio "
            f"{spread(ratios).text(fmt_ratio)}",
            "— (trend)",
            None,
            cores + (f"; {errors} errors/non-200" if errors else ""),
        ),
        Row(
            "redis",
            f"Redis store: status GETs/s, 1 API process ({conns})",
            f"{median(one_rates):.0f} req/s",
            f"SQLite store (server row): {sqlite:.0f} req/s"
            if sqlite
            else "SQLite store: not measured in this run",
            median(one_rates) / sqlite if sqlite else None,
            f"{spread(one_rates).text(lambda v: f'{v:.0f}')} req/s",
            "— (trend)",
            None,
        ),
        *follower_rows("redis", "Redis store, 1 API process", held_one, settings),
        *follower_rows("redis", "Redis store, 2 API processes", held_two, settings),
    ]
