"""Row 5: one ``AsyncJobsClient`` following many concurrent jobs, against one thread per job.

Each side runs in a child process of its own (``benchmarks.child``), which submits
``fanout`` sleep jobs of ``fanout_seconds`` and waits for all of them with the
default strategy; it reports wall time, its own CPU seconds (``getrusage``) and its
peak RSS (``VmHWM``). Repetitions alternate the two sides.
"""

from __future__ import annotations

from .common import Row, Settings, fmt_ratio, median, run_child, spread
from .server import USER_TOKEN, BenchServer

__all__ = ["fanout_rows"]


def fanout_rows(settings: Settings) -> list[Row]:
    """Wall time, CPU and peak RSS of the async client against threads.

    Args:
        settings: the run's settings.
    """
    sides = ("fanout-async", "fanout-threads")
    results: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    incomplete: list[str] = []
    with BenchServer(workers=settings.fanout + 16, workdir=settings.workdir) as server:
        params = {
            "url": server.url,
            "token": USER_TOKEN,
            "count": settings.fanout,
            "seconds": settings.fanout_seconds,
        }
        for _ in range(settings.reps):
            for side in sides:
                out = run_child(side, params, timeout=settings.fanout_seconds * 4 + 900)
                results[side].append(out)
                if out["completed"] != settings.fanout:
                    incomplete.append(
                        f"{side}: {out['completed']}/{settings.fanout} completed "
                        f"({', '.join(out['other'])})"
                    )
    a, t = results["fanout-async"], results["fanout-threads"]
    label = f"{settings.fanout} jobs of {settings.fanout_seconds:g} s"
    note = "; ".join(incomplete)
    all_done = not any(out["completed"] != settings.fanout for out in a)
    rows = []
    for key, unit, what, target, limit in (
        ("wall", "s", "wall time", "all complete", None),
        ("cpu", "s", "client CPU seconds", "< threads", 1.0),
        ("rss_mib", "MiB", "client peak RSS", "≤ 200 MB", None),
    ):
        av = [float(out[key]) for out in a]
        tv = [float(out[key]) for out in t]
        ratios = [x / y for x, y in zip(av, tv, strict=True)]
        ratio = median(ratios)
        if key == "wall":
            met: bool | None = all_done
        elif key == "cpu":
            met = ratio < (limit or 1.0)
        else:
            met = median(av) * 1024 * 1024 <= 200e6
        rows.append(
            Row(
                row="fanout",
                figure=f"one AsyncJobsClient, {label}: {what}",
                value=f"{median(av):.1f} {unit}",
                baseline=f"{settings.fanout} threads × JobsClient: {median(tv):.1f} {unit}",
                ratio=ratio,
                spread=f"ratio {spread(ratios).text(fmt_ratio)}",
                target=target,
                met=met,
                note=note if key == "wall" else "",
            )
        )
    return rows
