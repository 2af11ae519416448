"""Pure rendering: jobs, events and progress as text, JSON and tables. No I/O here.

Commands decide *what* to show; these functions decide *how* it reads, so the
same line is used by the plain progress printer, ``status`` and ``events``, and
tests can check the text without a terminal. Every string that came from a
server goes through ``text.clean`` here (ids, types, statuses, messages, error
codes, event names, URLs), and the table hands rich ``Text`` cells, never markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .text import clean, shorten

if TYPE_CHECKING:
    from rich.table import Table

    from ..models import Job, JobError, JobEvent, Progress

__all__ = [
    "counts_text",
    "error_text",
    "event_json",
    "event_line",
    "format_duration",
    "format_size",
    "is_byte_progress",
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


_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
# A message that only restates the counts in bytes: what the reference server's blob says.
_BYTES_MESSAGE = re.compile(r"\s*(\d+)\s*(?:of|/)\s*(\d+)\s*bytes\s*", re.IGNORECASE)


def _unit(size: float) -> tuple[int, str]:
    for power, suffix in enumerate(_UNITS):
        if size < 1024 ** (power + 1) or power == len(_UNITS) - 1:
            return 1024**power, suffix
    raise AssertionError("unreachable")  # pragma: no cover


def format_size(size: float) -> str:
    """``512 bytes``, ``190.7 MiB`` — binary units, as rich's ``DownloadColumn(binary_units=True)``.

    Args:
        size: a number of bytes.
    """
    unit, suffix = _unit(size)
    return f"{size:,.0f} {suffix}" if unit == 1 else f"{size / unit:,.1f} {suffix}"


def is_byte_progress(progress: Progress | None) -> bool:
    """Whether a job's progress counts bytes: its message only restates the counts in bytes.

    ``5 of 10 bytes`` (the reference server's ``blob``) with current 5 and total 10.

    Args:
        progress: the job's progress.
    """
    if progress is None or not progress.message:
        return False
    match = _BYTES_MESSAGE.fullmatch(progress.message)
    if match is None:
        return False
    return (int(match[1]), int(match[2])) == (progress.current, progress.total)


def counts_text(current: float, total: float | None, *, as_bytes: bool = False) -> str:
    """``3/10``, ``5``, or in bytes ``95.4/190.7 MiB`` (``190.7 MiB`` without a total).

    Args:
        current: steps (or bytes) done.
        total: steps (or bytes) in all; None or 0 when unknown.
        as_bytes: show sizes in binary units.
    """
    if not as_bytes:
        return f"{current:.0f}/{total:.0f}" if total else f"{current:.0f}"
    if not total:
        return format_size(current)
    unit, suffix = _unit(total)
    if unit == 1:
        return f"{current:,.0f}/{total:,.0f} {suffix}"
    return f"{current / unit:,.1f}/{total / unit:,.1f} {suffix}"


def progress_text(progress: Progress | None) -> str:
    """``3/10 (30%) rendering page 3``, or ``""`` without progress (the message escaped).

    Byte counts read ``95.4/190.7 MiB (50%)``, without a message that only restated them.

    Args:
        progress: the job's progress.
    """
    if progress is None:
        return ""
    as_bytes = is_byte_progress(progress)
    parts: list[str] = []
    if progress.total > 0:
        pct = int(100 * (progress.fraction or 0.0))
        counts = counts_text(progress.current, progress.total, as_bytes=as_bytes)
        parts.append(f"{counts} ({pct}%)")
    elif progress.current:
        parts.append(counts_text(progress.current, None, as_bytes=as_bytes))
    if progress.message and not as_bytes:
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


def outage_text(reason: str, down_for: float | None, deadline_left: float | None) -> str:
    """What to say while the server can't be reached, in one line (no timestamp).

    ``connection lost: could not connect; retrying for up to 4m30s (the --timeout)``,
    later ``server unreachable for 30s (could not connect); retrying ...``.

    Args:
        reason: what failed (the SDK's words; escaped here).
        down_for: seconds since the connection was lost, or None for the first line.
        deadline_left: seconds left before the deadline then, or None without one.
    """
    until = (
        f"retrying for up to {format_duration(max(0.0, deadline_left))} (the --timeout)"
        if deadline_left is not None
        else "retrying until it answers or the retries run out"
    )
    what = shorten(reason, 120)
    if down_for is None:
        return f"connection lost: {what}; {until}"
    return f"server unreachable for {format_duration(down_for)} ({what}); {until}"


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


def event_line(event: JobEvent, when: datetime, *, job_id: str | None = None) -> str:
    """An event as one human line: ``18:30:01 progress 3/10 (30%) page 3``.

    Args:
        event: the event.
        when: when it arrived.
        job_id: the job it is about, when several are followed (shown after the time).
    """
    parts = [when.strftime("%H:%M:%S")]
    if job_id is not None:
        parts.append(clean(job_id))
    parts.append(clean(event.event))
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
