"""The live view at a terminal: one row per job, at a cost that does not grow with the jobs.

A row shows the job's type and id, a bar, current/total (sizes such as
``95.4/190.7 MiB`` when the progress counts bytes), the status, the elapsed
time, the ETA (and the speed, for bytes), and the server's message, or for a
failed or cancelled job its error code and reason.

Cost, with N jobs and a terminal of H lines:

- an update only changes that job's row in memory: O(1), nothing is drawn;
- a frame is drawn from the display's own calls (``add``, ``update``, ``done``,
  ``tick``), at most ``refresh_per_second`` times a second and within a budget
  of ``ROWS_PER_SECOND`` rows laid out a second (a frame of 10 rows may come 10
  times a second, one of 38 rows about 3 times): the view costs the same per
  second, so per job, whether it follows 10 jobs or 1,000. No refresh thread,
  no lock, and an injectable clock for tests;
- a frame holds at most H - 2 rows: every row while they fit, else a summary
  line (how many jobs are in each state) and the most recently changed rows,
  active ones first, in job order. Picking them walks two recency lists from
  their ends (O(H)); the rows are laid out as lines of ``Text`` with column
  widths taken from the rows shown (O(H) too), not by a rich ``Table``, whose
  measuring made a frame cost about a millisecond per row.

Every server string was escaped (``text.clean``, ``text.shorten``) when it was
stored, and rich gets ``Text``, never markup.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from .display import NullProgress
from .render import (
    counts_text,
    format_duration,
    format_size,
    is_byte_progress,
    outage_text,
    wire_status,
)
from .text import clean, shorten

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live
    from rich.text import Text

    from .. import ConnectionEvent
    from ..models import Progress

__all__ = ["ROWS_PER_SECOND", "LiveProgress"]

ROWS_PER_SECOND = 120

_SUMMARY_ORDER = ("completed", "failed", "cancelled", "error", "processing", "pending")
_STYLES = {"completed": "green", "failed": "red", "error": "red", "cancelled": "yellow"}
_BAR_WIDTH = 30
_NOTE_WIDTH = 60


@dataclass
class _Row:
    """What one row shows (server text already escaped)."""

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
        self._rows: dict[str, _Row] = {}
        # Least recently changed first; a change moves a row to the end (O(1)).
        self._active: OrderedDict[str, None] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._counts: dict[str, int] = {}
        self._drawn_at = float("-inf")
        # The server can't be reached: which jobs' followers said so, since when, and
        # the last loss (reason, time left then, when) for the line atop the frame.
        self._down: set[str] = set()
        self._down_since: float | None = None
        self._last_loss: tuple[str, float | None, float] = ("", None, 0.0)
        self._lines = 1  # lines in the last frame: a frame waits until it fits the budget
        self._live: Live = Live(
            get_renderable=self._frame,
            console=console,
            auto_refresh=False,  # frames are drawn here, throttled: no thread, no lock
            transient=False,
            redirect_stdout=False,  # stdout is for results only, never the live view
            redirect_stderr=False,
        )
        self._live.start()

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
        row = _Row(
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
            restated = is_byte_progress(progress)  # the message only restates the bytes
            row.as_bytes = row.as_bytes or restated
            row.current, row.total = float(progress.current), float(progress.total)
            if row.first is None and row.total > 0:
                row.first = (self._clock(), row.current)
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

    def connection(self, job_id: str, event: ConnectionEvent) -> None:
        """Show atop the rows that the server can't be reached; say when it is back.

        Args:
            job_id: the job whose follower heard it.
            event: a loss (with the next try and the time left) or a return.
        """
        now = self._clock()
        said = None
        if not event.ok:
            self._last_loss = (event.reason, event.deadline_left, now)
            if not self._down:
                self._down_since = now
            self._down.add(job_id)
        else:
            self._down.discard(job_id)
            if not self._down and self._down_since is not None:
                said = f"connection restored after {format_duration(now - self._down_since)}"
                self._down_since = None
        self._drawn_at = float("-inf")  # a change of connection is always drawn at once
        self._draw()
        if said is not None:  # above the (already redrawn) rows, kept in the scrollback
            self._console.print(said, highlight=False)

    def tick(self) -> None:
        """Redraw if a frame is due (the clocks move)."""
        self._draw()

    def close(self) -> None:
        """Stop the live display (its last frame, drawn now, stays on screen)."""
        self._live.stop()

    def _count(self, status: str, delta: int) -> None:
        bucket = status if status in _SUMMARY_ORDER else "other"
        self._counts[bucket] = self._counts.get(bucket, 0) + delta

    def _set_status(self, row: _Row, status: object) -> None:
        new = wire_status(status)
        if new != row.status:
            self._count(row.status, -1)
            self._count(new, +1)
            row.status = new

    def _draw(self) -> None:
        now = self._clock()
        if now - self._drawn_at >= max(self._interval, self._lines / ROWS_PER_SECOND):
            self._drawn_at = now
            self._live.refresh()

    def _visible(self, room: int) -> list[_Row]:
        """At most ``room`` rows: the most recently changed, active ones first, in job order."""
        picked = [self._rows[j] for j in islice(reversed(self._active), room)]
        picked += [self._rows[j] for j in islice(reversed(self._finished), room - len(picked))]
        return sorted(picked, key=lambda r: r.order)

    def _frame(self) -> RenderableType:
        """What the terminal shows now (rich's Live calls it for each frame)."""
        from rich.text import Text

        size = self._console.size
        room = max(1, size.height - 2)
        lines: list[Text] = []
        if self._down_since is not None:
            reason, left, at = self._last_loss
            now = self._clock()
            remaining = None if left is None else left - (now - at)
            lines.append(
                Text(outage_text(reason, now - self._down_since, remaining), style="bold red")
            )
            room = max(1, room - 1)
        if len(self._rows) <= room:
            rows = list(self._rows.values())  # at most room of them
        else:
            rows = self._visible(room - 1)
            parts = [f"{n} {s}" for s in (*_SUMMARY_ORDER, "other") if (n := self._counts.get(s))]
            total = f"{len(self._rows)} jobs: {', '.join(parts)} (the {len(rows)} latest shown)"
            lines.append(Text(total, style="bold"))
        lines += _layout(rows, self._clock(), size.width, self._console.options.ascii_only)
        self._lines = max(1, len(lines))
        frame = Text("\n").join(lines)
        frame.no_wrap, frame.overflow = True, "ellipsis"
        return frame


def _layout(rows: list[_Row], now: float, width: int, ascii_only: bool) -> list[Text]:
    """The rows as lines, columns aligned over the rows shown; the bar takes what is left."""
    from rich.text import Text

    cells = [_cells(row, now) for row in rows]
    if not cells:
        return []
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    rest = width - sum(widths) - 6 - 20  # six gaps; keep 20 columns for the note
    bar_width = max(8, min(_BAR_WIDTH, rest))
    lines = []
    for row, (label, counts, status, elapsed, eta) in zip(rows, cells, strict=True):
        style = _STYLES.get(row.status, "")
        line = Text(label.ljust(widths[0]) + " ")
        line.append_text(_bar(row, now, bar_width, ascii_only))
        line.append(" " + counts.rjust(widths[1]) if widths[1] else "")
        line.append(" " + status.ljust(widths[2]), style=style)
        line.append(" " + elapsed.rjust(widths[3]))
        line.append(" " + eta.ljust(widths[4]) if widths[4] else "")
        line.append(" " + row.note if row.note else "", style=style if row.failed else "")
        line.rstrip()
        lines.append(line)
    return lines


def _cells(row: _Row, now: float) -> tuple[str, str, str, str, str]:
    end = row.ended if row.ended is not None else now
    counts = ""
    if row.total > 0 or row.current:
        counts = counts_text(row.current, row.total, as_bytes=row.as_bytes)
    elapsed = _clock_text(end - row.started)
    return row.label, counts, shorten(row.status, 20), elapsed, _eta(row, now)


def _bar(row: _Row, now: float, width: int, ascii_only: bool) -> Text:
    """A bar in rich's ``bar.*`` styles: the done part, a half cell, the rest (or a pulse)."""
    from rich.text import Text

    full_char, half_char = ("#", "#") if ascii_only else ("━", "╸")
    bar = Text()
    if row.total <= 0 and row.ended is None:  # no total yet: a lit run of cells that moves
        head = int(now * 15) % (width + 6)
        lit_from, lit_to = max(0, head - 6), min(width, head)
        bar.append(full_char * lit_from, "bar.back")
        bar.append(full_char * (lit_to - lit_from), "bar.pulse")
        bar.append(full_char * (width - lit_to), "bar.back")
        return bar
    if row.total > 0:
        fraction = max(0.0, min(1.0, row.current / row.total))
    else:  # ended without a total: full if it completed, else empty
        fraction = 1.0 if row.status == "completed" else 0.0
    full, half = divmod(int(fraction * width * 2), 2)
    style = "bar.finished" if fraction >= 1.0 else "bar.complete"
    bar.append(full_char * full, style)
    if half:
        bar.append(half_char, style)
    if width - full - half > 0:
        bar.append(full_char * (width - full - half), "bar.back")
    return bar


def _eta(row: _Row, now: float) -> str:
    if row.ended is not None or row.total <= 0:
        return ""
    rate = 0.0
    if row.first is not None and now > row.first[0] and row.current > row.first[1]:
        rate = (row.current - row.first[1]) / (now - row.first[0])
    eta = _clock_text((row.total - row.current) / rate) if rate > 0 else "-:--:--"
    speed = f" {format_size(rate)}/s" if row.as_bytes and rate > 0 else ""
    return f"eta {eta}{speed}"


def _clock_text(seconds: float) -> str:
    """``0:01:05``: what rich's elapsed and remaining columns show."""
    s = max(0, int(seconds))
    return f"{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"
