"""Progress displays on stderr: a rich live view on a TTY, plain log lines elsewhere.

Three implementations of one small interface (``add``, ``update``, ``done``,
``tick``, ``close``), chosen by ``make_job_progress`` from the resolved mode:

- ``LiveProgress``: a rich live display, one row per job (bar with current/total,
  the server's message, elapsed time and ETA);
- ``PlainProgress``: one timestamped line per change of state or progress, at
  most one a second per job, plus a heartbeat line when a job has been silent for
  ``heartbeat`` seconds (under 30); no carriage returns, no ANSI codes. The clock and the
  wall clock are injected, so tests drive it without sleeping;
- ``NullProgress``: ``--progress none`` and ``--quiet``.

The caller calls ``tick()`` about once a second (the waiter runs a small task
for it); that is when held-back changes and heartbeats are printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from .render import format_duration, plain_line, status_text
from .text import clean

if TYPE_CHECKING:
    from rich.console import Console

    from ..models import Progress

__all__ = ["LiveProgress", "NullProgress", "PlainProgress", "make_job_progress"]


class NullProgress:
    """Shows nothing."""

    def add(self, job_id: str, label: str | None = None) -> None:
        """Start showing a job (ignored).

        Args:
            job_id: the job.
            label: a short label (e.g. the job type).
        """

    def update(self, job_id: str, status: object, progress: Progress | None) -> None:
        """A job's latest state (ignored).

        Args:
            job_id: the job.
            status: its status.
            progress: its progress.
        """

    def done(self, job_id: str, status: object) -> None:
        """A job reached its end (ignored).

        Args:
            job_id: the job.
            status: its final status (or the last one seen).
        """

    def tick(self) -> None:
        """Called about once a second (ignored)."""

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

    def add(self, job_id: str, label: str | None = None) -> None:
        """Start following a job (prints nothing until its first update).

        Args:
            job_id: the job.
            label: unused in plain mode.
        """
        if job_id not in self.rows:
            row = self.rows[job_id] = _Row(started=self.clock())
            row.printed_key = self._key(row.status, None)  # nothing known yet: no line

    @staticmethod
    def _key(status: object, progress: Progress | None) -> tuple[Any, ...]:
        if progress is None:
            return (status_text(status),)
        return (status_text(status), progress.current, progress.total, progress.message)

    def _print(self, job_id: str, row: _Row, now: float, *, heartbeat: bool = False) -> None:
        line = plain_line(
            self.wall(), job_id, row.status, row.progress, now - row.started, heartbeat=heartbeat
        )
        self.stream.write(line + "\n")
        self.stream.flush()
        row.printed_at = now
        row.printed_key = self._key(row.status, row.progress)

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
            return
        if row.printed_at is None or now - row.printed_at >= self.min_interval:
            self._print(job_id, row, now)

    def done(self, job_id: str, status: object) -> None:
        """Print the final line of a job now (unless that exact line was just printed).

        Args:
            job_id: the job.
            status: its final status.
        """
        self.add(job_id)
        row = self.rows[job_id]
        if row.finished:
            return
        row.status = status
        if self._key(status, row.progress) != row.printed_key:
            self._print(job_id, row, self.clock())
        row.finished = True

    def tick(self) -> None:
        """Print held-back changes that are now due, and heartbeats for silent jobs."""
        now = self.clock()
        for job_id, row in self.rows.items():
            if row.finished:
                continue
            changed = self._key(row.status, row.progress) != row.printed_key
            last = row.printed_at if row.printed_at is not None else row.started
            if changed and now - last >= self.min_interval:
                self._print(job_id, row, now)
            elif now - last >= self.heartbeat:
                self._print(job_id, row, now, heartbeat=True)


class LiveProgress(NullProgress):
    """A rich live display with one row per job.

    Args:
        console: the stderr console.
    """

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(  # server text: escaped, and never parsed as markup
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}", markup=False),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[message]}", markup=False),
            console=console,
            transient=False,
            refresh_per_second=8,
            redirect_stdout=False,  # stdout is for results only, never the live view
            redirect_stderr=False,
        )
        self._tasks: dict[str, Any] = {}
        self._progress.start()

    def add(self, job_id: str, label: str | None = None) -> None:
        """Add a row for a job.

        Args:
            job_id: the job.
            label: a short label shown before the id.
        """
        if job_id not in self._tasks:
            text = clean(f"{label} {job_id[:8]}" if label else job_id[:8])
            self._tasks[job_id] = self._progress.add_task(
                text, total=None, status="pending", message=""
            )

    def update(self, job_id: str, status: object, progress: Progress | None) -> None:
        """Move a job's bar.

        Args:
            job_id: the job.
            status: its status.
            progress: its progress.
        """
        self.add(job_id)
        fields: dict[str, Any] = {"status": status_text(status)}
        if progress is not None:
            fields["message"] = clean((progress.message or "")[:60])
            if progress.total > 0:
                fields["total"] = progress.total
                fields["completed"] = progress.current
        self._progress.update(self._tasks[job_id], **fields)

    def done(self, job_id: str, status: object) -> None:
        """Show a job's final state and stop its clock.

        Args:
            job_id: the job.
            status: its final status.
        """
        self.add(job_id)
        task_id = self._tasks[job_id]
        task = self._progress.tasks[self._tasks_index(task_id)]
        extra: dict[str, Any] = {}
        if status_text(status) == "completed":
            total = task.total or 1
            extra = {"total": total, "completed": total}
        self._progress.update(task_id, status=status_text(status), **extra)
        self._progress.stop_task(task_id)

    def _tasks_index(self, task_id: Any) -> int:
        for i, task in enumerate(self._progress.tasks):
            if task.id == task_id:
                return i
        raise KeyError(task_id)

    def close(self) -> None:
        """Stop the live display (its last frame stays on screen)."""
        self._progress.stop()


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
