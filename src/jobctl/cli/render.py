"""Pure rendering: jobs, events and progress as text, JSON and tables. No I/O here.

Commands decide *what* to show; these functions decide *how* it reads, so the
same line is used by the plain progress printer, ``status`` and ``events``, and
tests can check the text without a terminal. Every string that came from a
server goes through ``text.clean`` here (ids, types, statuses, messages, error
codes, event names, URLs), and the table hands rich ``Text`` cells, never markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .text import clean

if TYPE_CHECKING:
    from rich.table import Table

    from ..models import Job, JobError, JobEvent, Progress

__all__ = [
    "error_text",
    "event_json",
    "event_line",
    "format_duration",
    "job_json",
    "job_summary",
    "jobs_table",
    "plain_line",
    "progress_text",
    "status_text",
    "to_jsonable",
    "wire_status",
]


def wire_status(status: object) -> str:
    """A status as its raw wire string (``JobStatus`` or an unknown string), for comparing.

    Args:
        status: the status.
    """
    return str(getattr(status, "value", status) or "unknown")


def status_text(status: object) -> str:
    """A status as shown: its wire string, escaped (unknown statuses are free strings).

    Args:
        status: the status.
    """
    return clean(wire_status(status))


def error_text(error: JobError | None) -> str:
    """``code: message`` of a job's error, raw (escape it where it is shown), or ``""``.

    Args:
        error: the job's error.
    """
    if error is None:
        return ""
    return f"{error.code}: {error.message}" if error.message else str(error.code)


def format_duration(seconds: float) -> str:
    """``4s``, ``1m05s``, ``2h03m`` — short and stable.

    Args:
        seconds: a duration.
    """
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def progress_text(progress: Progress | None) -> str:
    """``3/10 (30%) rendering page 3``, or ``""`` without progress (the message escaped).

    Args:
        progress: the job's progress.
    """
    if progress is None:
        return ""
    parts: list[str] = []
    if progress.total > 0:
        pct = int(100 * (progress.fraction or 0.0))
        parts.append(f"{progress.current}/{progress.total} ({pct}%)")
    elif progress.current:
        parts.append(str(progress.current))
    if progress.message:
        parts.append(clean(progress.message))
    return " ".join(parts)


def plain_line(
    when: datetime,
    job_id: str,
    status: object,
    progress: Progress | None,
    elapsed: float,
    *,
    heartbeat: bool = False,
) -> str:
    """One plain progress line for logs: no ANSI, no carriage return.

    ``2026-11-27T18:30:01Z 1f2e3d4c processing 3/10 (30%) page 3 [12s]``

    Args:
        when: the wall-clock time (UTC).
        job_id: the job.
        status: its status.
        progress: its progress.
        elapsed: seconds since jobctl started following it.
        heartbeat: mark the line as a heartbeat ("still ...").
    """
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    state = ("still " if heartbeat else "") + status_text(status)
    body = " ".join(p for p in (clean(job_id), state, progress_text(progress)) if p)
    return f"{stamp} {body} [{format_duration(elapsed)}]"


def to_jsonable(job: Job) -> dict[str, Any]:
    """A job as its wire document (camelCase, no empty fields).

    Args:
        job: the job.
    """
    return job.model_dump(mode="json", by_alias=True, exclude_none=True)


def job_json(job: Job) -> str:
    """A job as one line of JSON.

    Args:
        job: the job.
    """
    return json.dumps(to_jsonable(job), separators=(",", ":"))


def event_json(event: JobEvent) -> str:
    """An event as one line of JSON (the full snapshot of polled events left out).

    Args:
        event: the event.
    """
    data = event.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"job"})
    return json.dumps(data, separators=(",", ":"))


def event_line(event: JobEvent, when: datetime) -> str:
    """An event as one human line: ``18:30:01 progress 3/10 (30%) page 3``.

    Args:
        event: the event.
        when: when it arrived.
    """
    parts = [when.strftime("%H:%M:%S"), clean(event.event)]
    if event.status is not None:
        parts.append(status_text(event.status))
    text = progress_text(event.progress)
    if text:
        parts.append(text)
    if event.result_url:
        parts.append(f"result: {clean(event.result_url)}")
    if event.error is not None:
        parts.append(f"error: {clean(error_text(event.error))}")
    return " ".join(parts)


def job_summary(job: Job) -> list[str]:
    """The lines ``jobctl status`` prints for a job.

    Args:
        job: the job.
    """
    lines = [f"job:      {clean(job.job_id)}", f"type:     {clean(job.type or '?')}"]
    lines.append(f"status:   {status_text(job.status)}")
    text = progress_text(job.progress)
    if text:
        lines.append(f"progress: {text}")
    for label, value in (
        ("created", job.created_at),
        ("started", job.started_at),
        ("finished", job.completed_at or job.cancelled_at),
        ("expires", job.expires_at),
    ):
        if value is not None:
            lines.append(f"{label + ':':<10}{value.isoformat().replace('+00:00', 'Z')}")
    if job.result_url:
        lines.append(f"result:   {clean(job.result_url)}")
    if job.error is not None:
        retry = f" (retryable: jobctl retry {clean(job.job_id)})" if job.error.retryable else ""
        lines.append(f"error:    {clean(error_text(job.error))}{retry}")
    if job.output is not None:
        lines.append(f"output:   {json.dumps(job.output, separators=(',', ':'))[:200]}")
    return lines


def jobs_table(jobs: Iterable[Job]) -> Table:
    """A rich table of jobs for ``jobctl list`` (cells are ``Text``: no markup is parsed).

    Args:
        jobs: the jobs, newest first.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("ID", "TYPE", "STATUS", "PROGRESS", "CREATED"):
        table.add_column(column, no_wrap=True)
    for job in jobs:
        created = job.created_at.strftime("%Y-%m-%d %H:%M:%S") if job.created_at else ""
        table.add_row(
            Text(clean(job.job_id)),
            Text(clean(job.type or "")),
            Text(status_text(job.status)),
            Text(progress_text(job.progress)),
            Text(created),
        )
    return table
