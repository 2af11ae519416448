"""Progress displays on stderr: a rich live view on a TTY, plain log lines elsewhere.

Three implementations of one small interface (``add``, ``update``, ``done``,
``tick``, ``close``), chosen by ``make_job_progress`` from the resolved mode:

- ``LiveProgress``: a rich live display, one row per job (its type and id, a
  bar, current/total — sizes like ``95.4/190.7 MiB`` when the progress counts
  bytes —, status, elapsed time, ETA, and the server's message, or for a failed
  or cancelled job its error code and reason). Its cost does not grow with the
  number of jobs: an update only changes that job's row in memory (O(1)); the
  screen is redrawn at most ``refresh_per_second`` times a second, and a frame
  holds at most as many rows as the terminal has lines: when there are more
  jobs than that, a summary line (how many jobs in each state) and the most
  recently changed rows, active ones first;
- ``PlainProgress``: one timestamped line per change of state or progress, at
  most one a second per job, plus a heartbeat line when a job has been silent for
  ``heartbeat`` seconds (under 30); no carriage returns, no ANSI codes. Also
  O(1) per update, and a tick only looks at the jobs that have something due.
  The clock and the wall clock are injected, so tests drive it without sleeping;
- ``NullProgress``: ``--progress none`` and ``--quiet``.

Every string from the server is escaped (``text.clean``) and handed to rich as
``Text``, never as markup. The caller calls ``tick()`` about twice a second
(the waiter runs a small task for it); that is when held-back plain lines and
heartbeats are printed and the live view's clocks move.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, TextIO

from .render import (
    counts_text,
    format_duration,
    format_size,
    is_byte_progress,
    plain_line,
    wire_status,
)
from .text import clean, shorten

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from ..models import Progress

__all__ = ["LiveProgress", "NullProgress", "PlainProgress", "make_job_progress"]


class NullProgress:
    """Shows nothing."""

    def add(self, job_id: str, label: str | None = None) -> None:
        """Start showing a job (ignored).

        Args:
            job_id: the job.
            label: a short label (e.g. the job type); given again later, it fills in a
                row that had none.
        """

    def update(self, job_id: str, status: object, progress: Progress | None) -> None:
        """A job's latest state (ignored).

        Args:
            job_id: the job.
            status: its status.
            progress: its progress.
        """

    def done(self, job_id: str, status: object, reason: str | None = None) -> None:
        """A job reached its end (ignored).

        Args:
            job_id: the job.
            status: its final status (or the last one seen).
            reason: why it failed or stopped (``code: message``), raw server text.
        """

    def tick(self) -> None:
        """Called about twice a second (ignored)."""

    def close(self) -> None:
        """Stop showing anything (ignored)."""


@dataclass
class _Row:
    started: float
    status: object = "waiting"
    progress: Progress | None = None
    printed_at: float | None = None
    printed_key: tuple[Any, ...] | None = None
    finished: bool = False


class PlainProgress(NullProgress):
    """Plain timestamped lines for logs and CI.

    Args:
        stream: where lines go (stderr).
        clock: a monotonic clock in seconds.
        wall: the wall clock (UTC) for timestamps.
        min_interval: at most one line per job in this many seconds.
        heartbeat: a "still ..." line after this many silent seconds (25, so that with
            ticks every half second a CI log never goes 30 s without a line).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        min_interval: float = 1.0,
        heartbeat: float = 25.0,
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.wall = wall
        self.min_interval = min_interval
        self.heartbeat = heartbeat
        self.rows: dict[str, _Row] = {}
        # Unfinished jobs, least recently printed first (a print moves a job to the end),
        # so a tick finds the jobs due for a heartbeat without looking at the others.
        self._quiet: OrderedDict[str, None] = OrderedDict()
        # Jobs with a change not printed yet (held back by min_interval).
        self._held: dict[str, None] = {}

    def add(self, job_id: str, label: str | None = None) -> None:
        """Start following a job (prints nothing until its first update).

        Args:
            job_id: the job.
            label: unused in plain mode.
        """
        if job_id not in self.rows:
            row = self.rows[job_id] = _Row(started=self.clock())
            row.printed_key = self._key(row.status, None)  # nothing known yet: no line
            self._quiet[job_id] = None

    @staticmethod
    def _key(status: object, progress: Progress | None) -> tuple[Any, ...]:
        if progress is None:
            return (wire_status(status),)
        return (wire_status(status), progress.current, progress.total, progress.message)

    def _print(self, job_id: str, row: _Row, now: float, *, heartbeat: bool = False) -> None:
        line = plain_line(
            self.wall(), job_id, row.status, row.progress, now - row.started, heartbeat=heartbeat
        )
        self.stream.write(line + "\n")
        self.stream.flush()
        row.printed_at = now
        row.printed_key = self._key(row.status, row.progress)
        self._held.pop(job_id, None)
        if job_id in self._quiet:
            self._quiet.move_to_end(job_id)

    def update(self, job_id: str, status: object, progress: Progress | None) -> None:
        """Record a job's state; print it now unless a line was printed under a second ago.

        Args:
            job_id: the job.
            status: its status.
            progress: its progress.
        """
        self.add(job_id)
        row = self.rows[job_id]
        if row.finished:
            return
        row.status, row.progress = status, progress
        now = self.clock()
        if self._key(status, progress) == row.printed_key:
            self._held.pop(job_id, None)
            return
        if row.printed_at is None or now - row.printed_at >= self.min_interval:
            self._print(job_id, row, now)
        else:
            self._held[job_id] = None

    def done(self, job_id: str, status: object, reason: str | None = None) -> None:
        """Print the final line of a job now (unless that exact line was just printed).

        Args:
            job_id: the job.
            status: its final status.
            reason: unused in plain mode (the error line that follows says why).
        """
        self.add(job_id)
        row = self.rows[job_id]
        if row.finished:
            return
        row.status = status
        if self._key(status, row.progress) != row.printed_key:
            self._print(job_id, row, self.clock())
        row.finished = True
        self._quiet.pop(job_id, None)
        self._held.pop(job_id, None)

    def tick(self) -> None:
        """Print held-back changes that are now due, and heartbeats for silent jobs."""
        now = self.clock()
        for job_id in list(self._held):
            row = self.rows[job_id]
            last = row.printed_at if row.printed_at is not None else row.started
            if now - last >= self.min_interval:
                self._print(job_id, row, now)
        due: list[str] = []
        for job_id in self._quiet:  # least recently printed first: stop at the first not due
            row = self.rows[job_id]
            last = row.printed_at if row.printed_at is not None else row.started
            if now - last < self.heartbeat:
                break
            due.append(job_id)
        for job_id in due:
            self._print(job_id, self.rows[job_id], now, heartbeat=True)


_SUMMARY_ORDER = ("completed", "failed", "cancelled", "error", "processing", "pending")
_STYLES = {"completed": "green", "failed": "red", "error": "red", "cancelled": "yellow"}
_BAR_WIDTH = 30
_NOTE_WIDTH = 60


@dataclass
class _LiveRow:
    """What one row of the live view shows (server text already escaped)."""

    order: int
    job: str
    label: str
    started: float
    status: str = "pending"
    current: float = 0.0
    total: float = 0.0
    note: str = ""
    as_bytes: bool = False
    first: tuple[float, float] | None = None  # (time, current) of the first progress seen
    ended: float | None = None
    failed: bool = False


class LiveProgress(NullProgress):
    """A rich live display: one row per job, or a summary and the latest rows when many.

    Args:
        console: the stderr console.
        clock: a monotonic clock in seconds.
        refresh_per_second: the most frames drawn in a second.
        as_bytes: every row counts bytes (downloads), whatever the progress message says.
    """

    def __init__(
        self,
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_per_second: float = 10.0,
        as_bytes: bool = False,
    ) -> None:
        from rich.live import Live

        self._console = console
        self._clock = clock
        self._interval = 1.0 / refresh_per_second
        self._as_bytes = as_bytes
        self._rows: dict[str, _LiveRow] = {}
        # Least recently changed first; a change moves a row to the end (O(1)).
        self._active: OrderedDict[str, None] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._counts: dict[str, int] = {}
        self._drawn_at = float("-inf")
        self._live: Live = Live(
            get_renderable=self._frame,
            console=console,
            auto_refresh=False,  # frames are drawn here, throttled: no thread, no lock
            transient=False,
            redirect_stdout=False,  # stdout is for results only, never the live view
            redirect_stderr=False,
        )
        self._live.start()

    def _count(self, status: str, delta: int) -> None:
        bucket = status if status in _SUMMARY_ORDER else "other"
        self._counts[bucket] = self._counts.get(bucket, 0) + delta

    def _set_status(self, row: _LiveRow, status: object) -> None:
        new = wire_status(status)
        if new != row.status:
            self._count(row.status, -1)
            self._count(new, +1)
            row.status = new

    def add(self, job_id: str, label: str | None = None) -> None:
        """Add a row for a job (or give a row without a label its label).

        Args:
            job_id: the job.
            label: a short label shown before the id (the job type).
        """
        row = self._rows.get(job_id)
        if row is not None:
            if label and row.label == row.job:
                row.label = f"{shorten(label, 20)} {row.job}"
            return
        short = clean(job_id[:8])
        row = _LiveRow(
            order=len(self._rows),
            job=short,
            label=f"{shorten(label, 20)} {short}" if label else short,
            started=self._clock(),
            as_bytes=self._as_bytes,
        )
        self._rows[job_id] = row
        self._active[job_id] = None
        self._count(row.status, +1)
        self._draw()

    def update(self, job_id: str, status: object, progress: Progress | None) -> None:
        """Move a job's row (nothing is drawn unless a frame is due).

        Args:
            job_id: the job.
            status: its status.
            progress: its progress.
        """
        self.add(job_id)
        row = self._rows[job_id]
        if row.ended is not None:
            return
        self._set_status(row, status)
        if progress is not None:
            now = self._clock()
            restated = is_byte_progress(progress)  # the message only restates the bytes
            row.as_bytes = row.as_bytes or restated
            row.current, row.total = float(progress.current), float(progress.total)
            if row.first is None and row.total > 0:
                row.first = (now, row.current)
            row.note = "" if restated else shorten(progress.message or "", _NOTE_WIDTH)
        self._active.move_to_end(job_id)
        self._draw()

    def done(self, job_id: str, status: object, reason: str | None = None) -> None:
        """Show a job's final state (and why it failed or stopped) and stop its clock.

        Args:
            job_id: the job.
            status: its final status.
            reason: ``code: message`` of a failed or cancelled job, or what went wrong.
        """
        self.add(job_id)
        row = self._rows[job_id]
        if row.ended is not None:
            return
        self._set_status(row, status)
        row.ended = self._clock()
        if row.status == "completed" and row.total > 0:
            row.current = row.total
        if reason:
            row.note, row.failed = shorten(reason, _NOTE_WIDTH), True
        self._active.pop(job_id, None)
        self._finished[job_id] = None
        self._draw()

    def tick(self) -> None:
        """Redraw if a frame is due (the clocks move)."""
        self._draw()

    def close(self) -> None:
        """Stop the live display (its last frame, drawn now, stays on screen)."""
        self._live.stop()

    def _draw(self) -> None:
        now = self._clock()
        if now - self._drawn_at >= self._interval:
            self._drawn_at = now
            self._live.refresh()

    def _visible(self, room: int) -> list[_LiveRow]:
        """At most ``room`` rows: the most recently changed, active ones first, in job order."""
        picked = [self._rows[j] for j in islice(reversed(self._active), room)]
        picked += [self._rows[j] for j in islice(reversed(self._finished), room - len(picked))]
        return sorted(picked, key=lambda r: r.order)

    def _frame(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        room = max(1, self._console.size.height - 2)
        if len(self._rows) <= room:
            return self._table(list(self._rows.values()))
        rows = self._visible(room - 1)
        parts = [f"{n} {s}" for s in (*_SUMMARY_ORDER, "other") if (n := self._counts.get(s))]
        summary = Text(
            f"{len(self._rows)} jobs: {', '.join(parts)} (the {len(rows)} latest shown)",
            style="bold",
        )
        return Group(summary, self._table(rows))

    def _table(self, rows: list[_LiveRow]) -> RenderableType:
        from rich.progress_bar import ProgressBar
        from rich.table import Column, Table
        from rich.text import Text

        now = self._clock()
        table = Table.grid(
            Column(no_wrap=True),
            Column(no_wrap=True),
            Column(no_wrap=True, justify="right"),
            Column(no_wrap=True),
            Column(no_wrap=True),
            Column(no_wrap=True),
            Column(no_wrap=True, overflow="ellipsis"),
            padding=(0, 1),
        )
        for row in rows:
            end = row.ended if row.ended is not None else now
            if row.total > 0:
                bar = ProgressBar(total=row.total, completed=row.current, width=_BAR_WIDTH)
            elif row.ended is None:  # no total yet: rich's pulse
                bar = ProgressBar(total=None, width=_BAR_WIDTH, pulse=True, animation_time=now)
            else:  # ended without a total: a full bar if it completed, else an empty one
                done = 1.0 if row.status == "completed" else 0.0
                bar = ProgressBar(total=1.0, completed=done, width=_BAR_WIDTH)
            counts = (
                counts_text(row.current, row.total, as_bytes=row.as_bytes)
                if row.total > 0 or row.current
                else ""
            )
            style = _STYLES.get(row.status, "")
            table.add_row(
                Text(row.label),
                bar,
                Text(counts),
                Text(shorten(row.status, 20), style=style),
                Text(_clock_text(end - row.started)),
                Text(self._eta(row, now)),
                Text(row.note, style=style if row.failed else ""),
            )
        return table

    @staticmethod
    def _eta(row: _LiveRow, now: float) -> str:
        if row.ended is not None:
            return ""
        rate = 0.0
        if row.first is not None and now > row.first[0] and row.current > row.first[1]:
            rate = (row.current - row.first[1]) / (now - row.first[0])
        if row.total <= 0:
            return ""
        eta = _clock_text((row.total - row.current) / rate) if rate > 0 else "-:--:--"
        speed = f" {format_size(rate)}/s" if row.as_bytes and rate > 0 else ""
        return f"eta {eta}{speed}"


def _clock_text(seconds: float) -> str:
    """``0:01:05``: what rich's elapsed and remaining columns show."""
    s = max(0, int(seconds))
    return f"{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"


def make_job_progress(mode: str, *, stderr: TextIO, console: Callable[[], Console]) -> NullProgress:
    """The display for a resolved progress mode (``bar``, ``plain`` or ``none``).

    Args:
        mode: the resolved mode.
        stderr: the plain stderr stream.
        console: makes the stderr rich console (called for ``bar`` only, so plain
            output never imports rich).
    """
    if mode == "bar":
        return LiveProgress(console())
    if mode == "plain":
        return PlainProgress(stderr)
    return NullProgress()


def describe_elapsed(seconds: float) -> str:
    """``after 1m05s`` for end-of-job notices.

    Args:
        seconds: the time taken.
    """
    return f"after {format_duration(seconds)}"
