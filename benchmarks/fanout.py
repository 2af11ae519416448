"""Row 5: one ``AsyncJobsClient`` following many concurrent jobs, against one thread per job.

Each side runs in a child process of its own (``benchmarks.child``), which submits
``fanout`` sleep jobs of ``fanout_seconds`` and waits for all of them with the
default strategy; it reports wall time, its own CPU seconds (``getrusage``) and its
peak RSS (``VmHWM``). Repetitions alternate the sides. A third side runs the same
``AsyncJobsClient`` given an ``httpx.AsyncClient`` without httpx's default limit of
100 connections (one event stream holds one connection), to show what that costs.

A fourth side, ``many``, is the same client following all the jobs with one
``wait_many`` (the multiplexed stream, ``GET /api/events``) after submitting them
16 at a time: its CPU is held against the threads' (issue 15: at most 0.3x).
Then, on a fresh server, one run of ``wait_many`` on ``many_jobs`` jobs (10,000
in the full run): whether all complete, the child's peak RSS, and the peak number
of TCP connections the child held to the server while ``wait_many`` ran (its
``/proc/self/fd`` sockets matched against ``/proc/self/net/tcp``, every 0.1 s, by a
thread whose CPU is left out).
"""

from __future__ import annotations

from typing import Any

from .common import Row, Settings, fmt_ratio, median, run_child, spread
from .server import USER_TOKEN, BenchServer

__all__ = ["fanout_rows"]

_SIDES = {
    "async": ("fanout-async", False),
    "threads": ("fanout-threads", False),
    "async-unbounded": ("fanout-async", True),
    "many": ("fanout-many", False),
}
_MANY_RSS_TARGET = 150e6
_MANY_CONNECTIONS_TARGET = 4
_MANY_CPU_TARGET = 0.3


def fanout_rows(settings: Settings) -> list[Row]:
    """Wall time, CPU and peak RSS of the async client against threads.

    Args:
        settings: the run's settings.
    """
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in _SIDES}
    limit = settings.fanout_seconds * 4 + 120
    with BenchServer(workers=settings.fanout + 16, workdir=settings.workdir) as server:
        params = {
            "url": server.url,
            "token": USER_TOKEN,
            "count": settings.fanout,
            "seconds": settings.fanout_seconds,
            "limit": limit,
        }
        for _ in range(settings.reps):
            for side, (kind, unbounded) in _SIDES.items():
                out = run_child(kind, dict(params, unbounded_pool=unbounded), timeout=limit + 300)
                results[side].append(out)
    rows = _rows(settings, "async", "one AsyncJobsClient (SDK defaults)", results)
    rows += _rows(
        settings, "async-unbounded", "one AsyncJobsClient(http_client=unbounded pool)", results
    )
    rows += _rows(settings, "many", "one AsyncJobsClient, one `wait_many`", results)
    if settings.many_jobs:
        rows += _many_rows(settings)
    return rows


def _many_rows(settings: Settings) -> list[Row]:
    """One run of ``wait_many`` on ``many_jobs`` jobs: completion, peak RSS, connections."""
    count = settings.many_jobs
    limit = settings.fanout_seconds * 4 + 600
    # As many workers as the 1,000-job side: the reference server wakes every idle
    # worker at each submit, so 10,000 of them make the submits crawl; with fewer the
    # jobs queue and stay live longer, which only makes the wait harder.
    workers = min(count, settings.fanout) + 16
    with BenchServer(workers=workers, workdir=settings.workdir) as server:
        params = {
            "url": server.url,
            "token": USER_TOKEN,
            "count": count,
            "seconds": settings.fanout_seconds,
            "limit": limit,
            "sample_connections": True,
            "submit_concurrency": 16,
        }
        out = run_child("fanout-many", params, timeout=limit + 900)
    what = f"one AsyncJobsClient, one `wait_many`, {count} jobs of {settings.fanout_seconds:g} s"
    done = int(out["completed"]) == count
    phases = out["phases"]
    run = (
        f"one run; {workers} server workers; submits {phases.get('submit', 0):.0f} s "
        f"(16 at a time), wait_many {phases.get('wait', 0):.0f} s with "
        f"{out.get('live_at_wait')} jobs still running when it began"
    )
    held = int(out["connections"]["wait"])
    new = int(out["new_connections"]["wait"])
    idle = int(out["connections_at_start"]["wait"])
    rss = float(out["rss_mib"])
    return [
        Row(
            "fanout",
            f"{what}: jobs completed",
            f"{out['completed']} of {count}",
            "—",
            None,
            run,
            "all complete",
            done,
            "" if done else f"other outcomes: {'; '.join(out['other'])}",
        ),
        Row(
            "fanout",
            f"{what}: client peak RSS",
            f"{rss:.1f} MiB",
            "—",
            None,
            f"VmHWM of the child (interpreter included); {run}",
            "≤ 150 MB",
            rss * 1024 * 1024 <= _MANY_RSS_TARGET and done,
        ),
        Row(
            "fanout",
            f"{what}: connections wait_many held (peak)",
            str(new),
            "—",
            None,
            f"sampled every 0.1 s; {held} with the {idle} idle keep-alive connections "
            f"the submits left in the shared pool; {out['connections']['submit']} "
            "while submitting",
            f"≤ {_MANY_CONNECTIONS_TARGET}",
            new <= _MANY_CONNECTIONS_TARGET and done,
        ),
    ]


def _incomplete(settings: Settings, runs: list[dict[str, Any]]) -> str:
    bad = [out for out in runs if out["completed"] != settings.fanout]
    if not bad:
        return ""
    done = ", ".join(str(out["completed"]) for out in runs)
    kinds = sorted({k for out in bad for k in out["other"]})
    return f"completed per run: {done} of {settings.fanout} ({'; '.join(kinds)})"


def _rows(
    settings: Settings, side: str, label: str, results: dict[str, list[dict[str, Any]]]
) -> list[Row]:
    a, t = results[side], results["threads"]
    what_jobs = f"{settings.fanout} jobs of {settings.fanout_seconds:g} s"
    all_done = all(out["completed"] == settings.fanout for out in a)
    notes = [n for n in (_incomplete(settings, a), _incomplete(settings, t)) if n]
    threads_label = f"{settings.fanout} threads × JobsClient"
    rows = []
    cpu_target = f"≤ {_MANY_CPU_TARGET:g}x" if side == "many" else "< threads"
    for key, unit, what, target in (
        ("wall", "s", "wall time", "all complete"),
        ("cpu", "s", "client CPU seconds", cpu_target),
        ("rss_mib", "MiB", "client peak RSS", "≤ 200 MB"),
    ):
        av = [float(out[key]) for out in a]
        tv = [float(out[key]) for out in t]
        ratios = [x / y for x, y in zip(av, tv, strict=True)]
        ratio = median(ratios)
        if key == "wall":
            met: bool | None = all_done
        elif key == "cpu" and side == "many":
            met = ratio <= _MANY_CPU_TARGET and all_done
        elif key == "cpu":
            met = ratio < 1.0 and all_done
        else:
            met = median(av) * 1024 * 1024 <= 200e6 and all_done
        rows.append(
            Row(
                row="fanout",
                figure=f"{label}, {what_jobs}: {what}",
                value=f"{median(av):.1f} {unit}",
                baseline=f"{threads_label}: {median(tv):.1f} {unit}",
                ratio=ratio,
                spread=f"ratio {spread(ratios).text(fmt_ratio)}",
                target=target,
                met=met,
                note="; ".join(notes) if key == "wall" else "",
            )
        )
    return rows
