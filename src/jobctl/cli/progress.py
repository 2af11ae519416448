"""Progress displays on stderr: a rich live view on a TTY, plain log lines elsewhere.

Three implementations of one small interface (``add``, ``update``, ``done``,
``tick``, ``close``), chosen by ``make_job_progress`` from the resolved mode:

- ``LiveProgress`` (in ``live.py``): a rich live view at a terminal, one row
  per job, whose cost does not grow with the number of jobs;
- ``PlainProgress``: one timestamped line per change of state or progress, at
  most one a second per job, plus a heartbeat line when a job has been silent for
  ``heartbeat`` seconds (under 30); no carriage returns, no ANSI codes. Also
  O(1) per update, and a tick only looks at the jobs that have something due.
  The clock and the wall clock are injected, so tests drive it without sleeping;
- ``NullProgress`` (the interface, in ``display.py``): ``--progress none`` and
  ``--quiet``.

Every string from the server is escaped (``text.clean``). The caller calls
``tick()`` about twice a second (the waiter runs a small task for it); that is
when held-back plain lines and heartbeats are printed and the live view's
clocks move.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from .display import NullProgress
from .render import format_duration, outage_text, plain_line, wire_status

if TYPE_CHECKING:
    from rich.console import Console

    from .. import ConnectionEvent
    from ..models import Progress

__all__ = ["NullProgress", "PlainProgress", "make_job_progress"]


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
        # The server can't be reached: which jobs' followers said so, since when, and
        # what the last of them said (one line for all of them, not one per job).
        self._down: set[str] = set()
        self._down_since: float | None = None
        self._down_said: float = 0.0
        self._last_loss: tuple[str, float | None, float] = ("", None, 0.0)
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
        self._emit(line, job_id, heartbeat=heartbeat)
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

    def connection(self, job_id: str, event: ConnectionEvent) -> None:
        """Say when the server is lost (once, for all jobs) and when it is back.

        Args:
            job_id: the job whose follower heard it.
            event: a loss (with the next try and the time left) or a return.
        """
        now = self.clock()
        if not event.ok:
            self._last_loss = (event.reason, event.deadline_left, now)
            if not self._down:
                self._down_since = self._down_said = now
                self._say(outage_text(event.reason, None, event.deadline_left))
            self._down.add(job_id)
            return
        self._down.discard(job_id)
        if not self._down and self._down_since is not None:
            self._say(f"connection restored after {format_duration(now - self._down_since)}")
            self._down_since = None

    def _say(self, text: str) -> None:
        stamp = self.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        self._emit(f"{stamp} {text}", None)

    def _emit(self, line: str, job_id: str | None, *, heartbeat: bool = False) -> None:
        """Write one line: every line goes out here (``ci.groups`` routes them per job).

        Args:
            line: the line, without its newline.
            job_id: the job it is about; None for a line about all of them.
            heartbeat: it only says the job is still going.
        """
        self.stream.write(line + "\n")
        self.stream.flush()

    def tick(self) -> None:
        """Print held-back changes that are now due, and heartbeats for silent jobs."""
        now = self.clock()
        if self._down_since is not None:
            # While the server can't be reached, the heartbeat says so (a job's "still
            # processing" would read as progress); the jobs' own lines wait.
            if now - self._down_said >= self.heartbeat:
                reason, left, at = self._last_loss
                remaining = None if left is None else left - (now - at)
                self._say(outage_text(reason, now - self._down_since, remaining))
                self._down_said = now
                for job_id in self._quiet:
                    self.rows[job_id].printed_at = now
            return
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


def make_job_progress(mode: str, *, stderr: TextIO, console: Callable[[], Console]) -> NullProgress:
    """The display for a resolved progress mode (``bar``, ``plain`` or ``none``).

    Args:
        mode: the resolved mode.
        stderr: the plain stderr stream.
        console: makes the stderr rich console (called for ``bar`` only, so plain
            output never imports rich).
    """
    if mode == "bar":
        from .live import LiveProgress

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
