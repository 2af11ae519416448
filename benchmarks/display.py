"""Row 9: what the progress display costs per job at 10, 150 and 1,000 jobs (no server).

The display is fed N synthetic jobs in this process: each is added, reports
three progress steps and ends (one in fifty fails, with a reason), on a
simulated clock that moves 2 ms per event, so frames come as often as they
would for jobs whose events arrive at that pace, and it is ticked every 0.5 s
like the waiter does. The live view draws on a forced-terminal rich console
(120 × 40, truecolor) writing to /dev/null; plain lines go to /dev/null too.

The figure is the wall time per job at N against the time per job at 10 jobs
measured in the same repetition (the baseline: the median of 15 runs, as one
run of 10 jobs takes about a millisecond). The target is that the cost per job
does not grow with the number of jobs: ≤ 1.5x. For plain lines the unit is the
line printed, not the job: plain mode prints one line per change, at most once
a second per job, so when 1,000 jobs' events take 16 simulated seconds every
step gets its line (4 a job), while 10 jobs' steps fall within a second and
are held back (2 a job). More lines is the contract, not a cost that grows.

Before the fix the live view laid out every row on every frame. It took no
clock, so it was measured with the same feed on the real clock: 4.1 ms per job
at 10 jobs, 60 ms at 150 and 270 ms at 500 (65x).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from jobctl.cli.progress import NullProgress
from jobctl.models import Progress

from .common import Row, Settings, fmt_ratio, median, spread

__all__ = ["display_rows"]

_STEP = 0.002  # simulated seconds per event
_BASE_JOBS = 10
_BASE_RUNS = 15
_TARGET = 1.5


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _feed(display: NullProgress, clock: _Clock, n: int) -> None:
    """Add n jobs, three progress steps each, then end each; tick every 0.5 simulated s."""
    next_tick = 0.5

    def step() -> None:
        nonlocal next_tick
        clock.now += _STEP
        if clock.now >= next_tick:
            next_tick += 0.5
            display.tick()

    ids = [f"job{i:06d}-bench" for i in range(n)]
    for job_id in ids:
        display.add(job_id, "report")
        step()
    for k in range(1, 4):
        for job_id in ids:
            progress = Progress(current=k, total=3, message=f"page {k} of 3")
            display.update(job_id, "processing", progress)
            step()
    for i, job_id in enumerate(ids):
        if i % 50 == 0:
            display.done(job_id, "failed", "render_error: page 3 is broken")
        else:
            display.done(job_id, "completed")
        step()


class _Sink:
    """Counts the lines written (plain mode) and throws them away."""

    def __init__(self) -> None:
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)

    def flush(self) -> None:
        pass


def _per_unit(mode: str, n: int) -> tuple[float, float]:
    """Wall seconds per unit (live: per job; plain: per line) and lines per job, one run."""
    from rich.console import Console

    from jobctl.cli.live import LiveProgress
    from jobctl.cli.progress import PlainProgress

    clock = _Clock()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        started = time.perf_counter()
        display: NullProgress
        if mode == "live":
            console = Console(
                file=sink, force_terminal=True, width=120, height=40, color_system="truecolor"
            )
            display = LiveProgress(console, clock=clock)
        else:
            wall: Callable[[], datetime] = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731
            lines = _Sink()
            display = PlainProgress(lines, clock=clock, wall=wall)  # type: ignore[arg-type]
        _feed(display, clock, n)
        display.close()
        took = time.perf_counter() - started
    if mode == "live":
        return took / n, 0.0
    return took / max(1, lines.lines), lines.lines / n


def _sizes(settings: Settings) -> list[int]:
    return sorted({n for n in (150, settings.display_jobs) if n > _BASE_JOBS})


def display_rows(settings: Settings) -> list[Row]:
    """Per-job cost of the live view and of plain lines at each size, against 10 jobs.

    Args:
        settings: the run's settings (``reps``, ``display_jobs``).
    """
    rows: list[Row] = []
    what = {
        "live": "live view at a terminal (forced rich console, 120×40): time per job",
        "plain": "plain lines (--progress plain): time per line printed",
    }
    for mode in ("live", "plain"):
        unit = "job" if mode == "live" else "line"
        _per_unit(mode, _BASE_JOBS)  # warm-up: imports, rich's first render
        bases: list[float] = []
        values: dict[int, list[float]] = {n: [] for n in _sizes(settings)}
        ratios: dict[int, list[float]] = {n: [] for n in _sizes(settings)}
        lines: dict[int, float] = {}
        for _ in range(settings.reps):
            runs = [_per_unit(mode, _BASE_JOBS) for _ in range(_BASE_RUNS)]
            base = median([seconds for seconds, _ in runs])
            lines[_BASE_JOBS] = runs[0][1]
            bases.append(base)
            for n in values:
                value, lines[n] = _per_unit(mode, n)
                values[n].append(value)
                ratios[n].append(value / base)
        for n in values:
            ratio = median(ratios[n])
            per_job = f" ({lines[n]:.1f} lines/job)" if mode == "plain" else ""
            base_per_job = f" ({lines[_BASE_JOBS]:.1f} lines/job)" if mode == "plain" else ""
            rows.append(
                Row(
                    row="display",
                    figure=f"{what[mode]}, {n} jobs (add, 3 steps, end; 2 ms a step)",
                    value=f"{median(values[n]) * 1e6:.0f} µs/{unit}{per_job}",
                    baseline=f"{_BASE_JOBS} jobs: {median(bases) * 1e6:.0f} µs/{unit}"
                    + base_per_job,
                    ratio=ratio,
                    spread=spread(ratios[n]).text(fmt_ratio),
                    target=f"≤ {_TARGET:g}x",
                    met=ratio <= _TARGET,
                )
            )
    return rows
