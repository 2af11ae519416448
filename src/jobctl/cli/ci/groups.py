"""Plain progress lines gathered per job into a GitHub group or a GitLab section.

``GroupedProgress`` is ``progress.PlainProgress`` (the same lines, the same
pacing) whose lines about one job are held back while the job runs and written
as one collapsible block when it ends, titled with its type, id, final status,
reason and duration::

    ::group::report 1f2e3d4c: completed [1m05s]
    2026-11-27T18:30:01Z 1f2e3d4c processing 3/10 (30%) page 3 [12s]
    ...
    ::endgroup::

GitLab's sections fold only the jobs that completed (operations that succeeded).
Jobs followed at the same time would interleave their lines, and GitLab must know whether to fold a
section when it opens, hence the holding back. So the log still shows life, a
line about all the jobs still running is written when nothing else was for
``heartbeat`` seconds (the one job's own line when there is one); lines about
all jobs (the server can't be reached) are written at once. Jobs still running
when the display closes (Ctrl-C) are written out as "stopped waiting".
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TextIO

from ..progress import PlainProgress
from ..render import format_duration, plain_line, wire_status
from ..text import clean
from . import github, gitlab
from .escape import redact

__all__ = ["GroupedProgress"]

_REASON_CHARS = 120


class GroupedProgress(PlainProgress):
    """Plain lines, one collapsible block per job, written when the job ends.

    Args:
        stream: where lines go (stderr).
        system: ``github`` or ``gitlab``.
        clock: a monotonic clock in seconds.
        wall: the wall clock (UTC).
        min_interval: at most one line per job in this many seconds.
        heartbeat: write a line about the running jobs after this many silent seconds.
        secrets: strings a title never shows (a server may echo the token in a message).
    """

    def __init__(
        self,
        stream: TextIO,
        system: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        min_interval: float = 1.0,
        heartbeat: float = 25.0,
        secrets: Sequence[str] = (),
    ) -> None:
        super().__init__(
            stream, clock=clock, wall=wall, min_interval=min_interval, heartbeat=heartbeat
        )
        self.system = system
        self.secrets = list(secrets)
        self._held_lines: dict[str, list[str]] = {}
        self._labels: dict[str, str] = {}
        self._began: dict[str, datetime] = {}
        self._blocks = 0
        self._visible_at = clock()

    def add(self, job_id: str, label: str | None = None) -> None:
        """Start following a job; its lines are held until it ends.

        Args:
            job_id: the job.
            label: its type, for the block's title.
        """
        if job_id not in self.rows:
            self._held_lines[job_id] = []
            self._began[job_id] = self.wall()
        super().add(job_id, label)
        if label:
            self._labels.setdefault(job_id, label)

    def _emit(self, line: str, job_id: str | None, *, heartbeat: bool = False) -> None:
        held = self._held_lines.get(job_id) if job_id is not None else None
        if held is None:
            self._write([line])
        elif not heartbeat:  # in a block written at the end, "still ..." says nothing
            held.append(line)

    def _write(self, lines: list[str]) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()
        self._visible_at = self.clock()

    def done(self, job_id: str, status: object, reason: str | None = None) -> None:
        """Print the job's last line, then write its block.

        Args:
            job_id: the job.
            status: its final status (or the last one seen).
            reason: why it failed or stopped (raw server text).
        """
        super().done(job_id, status, reason)
        self._write_block(job_id, status, reason)

    def _title(self, job_id: str, status: object, reason: str | None) -> str:
        label = self._labels.get(job_id)
        title = f"{label} {job_id}" if label else job_id
        title += f": {wire_status(status)}"
        if reason:
            short = reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 1] + "…"
            title += f" ({short})"
        title = redact(title, self.secrets)
        return f"{title} [{format_duration(self.clock() - self.rows[job_id].started)}]"

    def _write_block(self, job_id: str, status: object, reason: str | None) -> None:
        held = self._held_lines.pop(job_id, None)
        if held is None:
            return
        title = self._title(job_id, status, reason)  # raw: the markers escape it
        self._blocks += 1
        if self.system == "github":
            self._write([github.group_start(title), *held, github.GROUP_END])
            return
        name = gitlab.section_name(self._blocks, job_id)
        began = int(self._began[job_id].timestamp())
        folded = wire_status(status) in ("completed", "succeeded")  # a job's, an operation's
        start = gitlab.section_start(name, title, began, collapsed=folded)
        self._write([start, *held, gitlab.section_end(name, int(self.wall().timestamp()))])

    def tick(self) -> None:
        """Plain pacing, and a line about the running jobs after ``heartbeat`` silent seconds."""
        super().tick()
        if self._held_lines and self.clock() - self._visible_at >= self.heartbeat:
            self._write([self._waiting_line()])

    def _waiting_line(self) -> str:
        now = self.clock()
        running = list(self._held_lines)
        if len(self.rows) == 1:
            row = self.rows[running[0]]
            return plain_line(
                self.wall(), running[0], row.status, row.progress, now - row.started, heartbeat=True
            )
        states = Counter(wire_status(self.rows[job_id].status) for job_id in running)
        counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        stamp = self.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{stamp} waiting for {len(running)} of {len(self.rows)} jobs: {clean(counts)}"

    def close(self) -> None:
        """Write the blocks of the jobs still running (jobctl stopped waiting for them)."""
        for job_id in list(self._held_lines):
            self._write_block(job_id, self.rows[job_id].status, "stopped waiting")
        super().close()
