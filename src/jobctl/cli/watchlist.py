"""``jobctl list --watch``: the list's page kept live from one event stream.

The first page comes from ``GET /api/jobs`` (the same filters); then the caller's
``all`` stream (``AsyncJobsClient.watch``) says what changes. A row changes in
place; a job submitted meanwhile that passes the filters appears at the top (its
type and creation time read once); a job whose status leaves the ``--status``
filter leaves the table. On a terminal the table is redrawn (at most a few times
a second); off it, one line per change (``--json``: the job's document per line),
so a script can follow the list as a log. Until Ctrl-C or SIGTERM (130 / 143).
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import JobctlError
from .exitcodes import CliError
from .signals import SignalTrap, exit_code_for_signal, signal_name

if TYPE_CHECKING:
    from .. import AsyncJobsClient
    from ..models import Job, JobEvent
    from .state import AppState

__all__ = ["JobRows", "watch_jobs"]

log = logging.getLogger("jobctl")

REDRAW_EVERY = 0.25
"""Seconds between two frames of the live table (changes in between are merged)."""


class JobRows:
    """The page of jobs as it stands: newest first, at most ``limit``, filtered.

    Args:
        jobs: the first page.
        statuses: the ``--status`` filter (None: any).
        limit: rows kept.
    """

    def __init__(self, jobs: list[Job], statuses: list[str] | None, limit: int) -> None:
        self.statuses = set(statuses) if statuses else None
        self.limit = limit
        self.rows: dict[str, Job] = {job.job_id: job for job in jobs}

    def admits(self, job: Job) -> bool:
        """Whether a job in this state belongs in the table."""
        return self.statuses is None or str(job.status) in self.statuses

    def apply(self, event: JobEvent) -> Job | None:
        """Take an event of a known job: its new row (None: unknown job, or no change)."""
        job = self.rows.get(event.job_id or "")
        if job is None:
            return None
        update: dict[str, Any] = {}
        if event.job is not None and event.job.job_id == job.job_id:
            update = {k: getattr(event.job, k) for k in ("status", "progress", "result_url")}
            update["error"] = event.job.error
        else:
            if event.status is not None:
                update["status"] = event.status
            if event.progress is not None:
                update["progress"] = event.progress
            if event.error is not None:
                update["error"] = event.error
        new = job.model_copy(update=update)
        if (new.status, new.progress) == (job.status, job.progress):
            return None
        if _rank(new) < _rank(job):
            return None  # older news than the row (a new job's row was read after it)
        return self.put(new)

    def put(self, job: Job) -> Job:
        """Place a job (new or changed); one that leaves the filter leaves the table."""
        if not self.admits(job):
            self.rows.pop(job.job_id, None)
            return job
        self.rows[job.job_id] = job
        if len(self.rows) > self.limit:
            ordered = sorted(self.rows.values(), key=_created, reverse=True)
            self.rows = {j.job_id: j for j in ordered[: self.limit]}
        return job

    def newest_first(self) -> list[Job]:
        """The rows to draw."""
        return sorted(self.rows.values(), key=_created, reverse=True)


def _rank(job: Job) -> int:
    """How far along a job is: pending 0, processing 1, ended 2 (rows never go back)."""
    return 2 if job.is_terminal else 1 if str(job.status) == "processing" else 0


def _created(job: Job) -> float:
    return job.created_at.timestamp() if job.created_at else float("inf")


async def watch_jobs(
    state: AppState,
    client: AsyncJobsClient,
    statuses: list[str] | None,
    *,
    type: str | None,
    limit: int,
) -> int:
    """Show the page, then keep it live until interrupted.

    Args:
        state: the run's state.
        client: the async client.
        statuses: the ``--status`` filter.
        type: the ``--type`` filter.
        limit: rows shown.

    Raises:
        CliError: 130 / 143 at Ctrl-C / SIGTERM, the normal end.
    """
    import asyncio

    from .render import job_change_line, jobs_table, to_jsonable

    page = await client.list(status=statuses, type=type, limit=limit)
    rows = JobRows(list(page.jobs), statuses, limit)
    io = state.io
    live: Any = None
    if io.stdout_tty and not state.options.json:
        from rich.live import Live

        live = Live(jobs_table(rows.newest_first()), console=io.out, auto_refresh=False)
        live.start(refresh=True)
    elif state.options.json:
        for job in rows.newest_first():
            io.write_out(json.dumps(to_jsonable(job)))
    else:
        io.out.print(jobs_table(rows.newest_first()))
    drawn = time.monotonic()
    dirty = False

    def draw() -> None:
        nonlocal drawn, dirty
        live.update(jobs_table(rows.newest_first()), refresh=True)
        drawn, dirty = time.monotonic(), False

    def changed(job: Job) -> None:
        nonlocal dirty
        if live is None:
            if state.options.json:
                io.write_out(json.dumps(to_jsonable(job)))
            else:
                io.write_out(job_change_line(job, datetime.now(UTC)))
            return
        dirty = True
        if time.monotonic() - drawn >= REDRAW_EVERY:
            draw()

    async def flush() -> None:
        """Draw what changed since the last frame, even if no event follows it."""
        while True:
            await asyncio.sleep(REDRAW_EVERY)
            if dirty:
                draw()

    async def follow() -> None:
        async for event in client.watch(type=type):
            if event.job_id is None:
                continue
            if event.job_id in rows.rows:
                job = rows.apply(event)
                if job is not None:
                    changed(job)
            elif event.event == "status" or event.job is not None:
                try:  # a job new to the page: its type and creation time, read once
                    job = event.job or await client.get(event.job_id)
                except JobctlError as exc:  # gone meanwhile (purged, expired): no row
                    log.debug("list --watch: job %s: %s", event.job_id, exc)
                    continue
                if rows.admits(job):
                    changed(rows.put(job))

    flusher = asyncio.ensure_future(flush()) if live is not None else None
    trap = SignalTrap()
    try:
        with trap:
            try:
                await follow()
            except asyncio.CancelledError:
                if not trap.absorb():
                    raise
    finally:
        if flusher is not None:
            flusher.cancel()
        if live is not None:
            live.update(jobs_table(rows.newest_first()), refresh=True)
            live.stop()
    if trap.signum is not None:
        raise CliError(f"{signal_name(trap.signum)}: stopped", exit_code_for_signal(trap.signum))
    return 0
