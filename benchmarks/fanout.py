"""Row 5: one ``AsyncJobsClient`` following many concurrent jobs, against one thread per job.

Each side runs in a child process of its own (``benchmarks.child``), which submits
``fanout`` sleep jobs of ``fanout_seconds`` and waits for all of them with the
default strategy; it reports wall time, its own CPU seconds (``getrusage``) and its
peak RSS (``VmHWM``). Repetitions alternate the sides. A third side runs the same
``AsyncJobsClient`` given an ``httpx.AsyncClient`` without httpx's default limit of
100 connections (one event stream holds one connection), to show what that costs.
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
}


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
    return rows


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
    for key, unit, what, target in (
        ("wall", "s", "wall time", "all complete"),
        ("cpu", "s", "client CPU seconds", "< threads"),
        ("rss_mib", "MiB", "client peak RSS", "≤ 200 MB"),
    ):
        av = [float(out[key]) for out in a]
        tv = [float(out[key]) for out in t]
        ratios = [x / y for x, y in zip(av, tv, strict=True)]
        ratio = median(ratios)
        if key == "wall":
            met: bool | None = all_done
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
