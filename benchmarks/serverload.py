"""Row 7: the reference server's capacity, recorded for trend.

Status GETs per second: a raw-socket load generator in a child process hits one
running job's status URL from ``load_concurrency`` keep-alive connections, bounded
by ``load_seconds`` and a request budget; ``GET /healthz`` in the same run is the
reference (the ratio shows what the status route costs over an empty one).
Followers: a child opens ``followers`` event streams over a few long jobs and holds
them for ``hold_seconds`` (longer than the server's ``--keepalive``); every stream
must stay open and receive a keepalive comment. The server's RSS is read before
and while they are held. The measuring is shared with the ``redis`` row
(``capacity.py``). Then, on a server of its own, multiplexed streams of ``mux_jobs``
jobs: their memory per followed job against a per-job stream's (``mux.py``).
"""

from __future__ import annotations

from .capacity import SAME_RUN, Deployment, follower_rows, hold_followers, load_rate
from .common import Row, Settings, fmt_ratio, median, spread
from .mux import mux_rows
from .server import BenchServer

__all__ = ["server_rows"]

_JOBS = 10


def server_rows(settings: Settings) -> list[Row]:
    """Status GETs per second and SSE followers held.

    Args:
        settings: the run's settings.
    """
    extra = ("--keepalive", f"{settings.keepalive:g}")
    with BenchServer(workers=_JOBS + 8, extra=extra, workdir=settings.workdir) as server:
        deployment = Deployment(ports=(server.port,), pids=(server.pid,))
        long_job = settings.hold_seconds + settings.load_seconds * settings.reps * 2 + 120
        jobs = [
            server.submit("sleep", {"seconds": long_job, "steps": 1})["jobId"] for _ in range(_JOBS)
        ]
        server.wait_status(jobs[-1], status="processing")
        status_rates, health_rates, ratios, errors = [], [], [], 0
        for _ in range(settings.reps):
            health = load_rate(deployment, "/healthz", settings)
            status = load_rate(deployment, f"/api/jobs/{jobs[0]}", settings)
            errors += int(health["errors"]) + int(status["errors"]) + int(status["non_200"])
            health_rates.append(float(health["rate"]))
            status_rates.append(float(status["rate"]))
            ratios.append(status_rates[-1] / health_rates[-1])
        held = hold_followers(deployment, [f"/api/jobs/{j}/events" for j in jobs], settings)
    SAME_RUN["sqlite_status_rate"] = median(status_rates)
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
        *follower_rows("server", "reference server", held, settings),
        *mux_rows(held, settings),
    ]
