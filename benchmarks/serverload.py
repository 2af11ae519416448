"""Row 7: the reference server's capacity, recorded for trend.

Status GETs per second: a raw-socket load generator in a child process hits one
running job's status URL from ``load_concurrency`` keep-alive connections, bounded
by ``load_seconds`` and a request budget; ``GET /healthz`` in the same run is the
reference (the ratio shows what the status route costs over an empty one).
Followers: a child opens ``followers`` event streams over a few long jobs and holds
them for ``hold_seconds`` (longer than the server's ``--keepalive``); every stream
must stay open and receive a keepalive comment. The server's RSS is read before
and while they are held.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from .common import Row, Settings, fmt_ratio, median, rss_mib, run_child, spread
from .server import USER_TOKEN, BenchServer

__all__ = ["server_rows"]

_JOBS = 10


def server_rows(settings: Settings) -> list[Row]:
    """Status GETs per second and SSE followers held.

    Args:
        settings: the run's settings.
    """
    extra = ("--keepalive", f"{settings.keepalive:g}")
    with BenchServer(workers=_JOBS + 8, extra=extra, workdir=settings.workdir) as server:
        host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
        long_job = settings.hold_seconds + settings.load_seconds * settings.reps * 2 + 120
        jobs = [
            server.submit("sleep", {"seconds": long_job, "steps": 1})["jobId"] for _ in range(_JOBS)
        ]
        server.wait_status(jobs[-1], status="processing")
        base = {
            "host": host,
            "port": port,
            "token": USER_TOKEN,
            "seconds": settings.load_seconds,
            "concurrency": settings.load_concurrency,
            "max_requests": 2_000_000,
        }
        status_rates, health_rates, ratios, errors = [], [], [], 0
        for _ in range(settings.reps):
            health = run_child("load", dict(base, path="/healthz"), settings.load_seconds + 120)
            status = run_child(
                "load", dict(base, path=f"/api/jobs/{jobs[0]}"), settings.load_seconds + 120
            )
            errors += int(health["errors"]) + int(status["errors"]) + int(status["non_200"])
            health_rates.append(float(health["rate"]))
            status_rates.append(float(status["rate"]))
            ratios.append(status_rates[-1] / health_rates[-1])
        held, before, during = _followers(server, jobs, settings)
    opened = int(held["opened"])
    per = (during - before) / opened * 1024 if opened else float("nan")
    ok = opened == settings.followers and int(held["with_keepalive"]) == settings.followers
    return [
        Row(
            "server",
            f"reference server: status GETs/s ({settings.load_concurrency} keep-alive connections)",
            f"{median(status_rates):.0f} req/s",
            f"GET /healthz: {median(health_rates):.0f} req/s",
            median(ratios),
            f"{spread(status_rates).text(lambda v: f'{v:.0f}')} req/s; ratio "
            f"{spread(ratios).text(fmt_ratio)}",
            "— (trend)",
            None,
            f"{errors} errors/non-200" if errors else "",
        ),
        Row(
            "server",
            f"reference server: SSE followers held {held['held_seconds']:.0f} s "
            f"(keepalive every {settings.keepalive:g} s)",
            f"{opened}/{settings.followers} open, {held['with_keepalive']} got keepalives",
            "—",
            None,
            f"{held['ended_early']} ended early",
            f"{settings.followers} held",
            ok,
        ),
        Row(
            "server",
            "reference server: memory per SSE follower",
            f"{per:.0f} KiB",
            f"server RSS {before:.0f} MiB before, {during:.0f} MiB held",
            None,
            "one run",
            "— (trend)",
            None,
        ),
    ]


def _followers(
    server: BenchServer, jobs: list[str], settings: Settings
) -> tuple[dict[str, float], float, float]:
    """Hold the followers; the child's result and the server's RSS before/while held."""
    params = {
        "host": "127.0.0.1",
        "port": int(server.url.rsplit(":", 1)[1]),
        "token": USER_TOKEN,
        "paths": [f"/api/jobs/{j}/events" for j in jobs],
        "count": settings.followers,
        "hold_seconds": settings.hold_seconds,
    }
    before = rss_mib(server.pid)
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.child", "followers"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(params).encode())
    proc.stdin.close()
    during = before
    lines: list[str] = []
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace").strip()
        lines.append(line)
        if line.startswith("OPEN "):
            time.sleep(min(1.0, settings.hold_seconds / 4))
            during = rss_mib(server.pid)
    proc.wait(timeout=settings.hold_seconds + 180)
    if proc.returncode != 0 or not lines:
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        raise RuntimeError(f"followers child exited {proc.returncode}: {err[-800:]}")
    result: dict[str, float] = json.loads(lines[-1])
    return result, before, during
