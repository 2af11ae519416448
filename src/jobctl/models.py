"""Pydantic models of the wire format in docs/protocol.md.

Field names on the wire are camelCase; in Python they are snake_case (aliases
carry the wire names, and models accept either). Unknown fields are ignored so
that newer servers do not break older clients. An unknown ``status`` string is
kept as a plain ``str``, treated as non-terminal, and logged once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from .errors import JobctlError

__all__ = [
    "TERMINAL_STATUSES",
    "Job",
    "JobCancelledError",
    "JobError",
    "JobEvent",
    "JobFailedError",
    "JobPage",
    "JobStatus",
    "Progress",
    "WaitTimeoutError",
    "job_id_problem",
]

log = logging.getLogger("jobctl")
_unknown_logged: set[str] = set()


class JobStatus(StrEnum):
    """The states of a job. ``completed``, ``failed`` and ``cancelled`` are terminal."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for states that never change again."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
)


def _coerce_status(value: Any) -> JobStatus | str:
    """Known status strings become ``JobStatus``; unknown ones stay ``str`` (logged once)."""
    if isinstance(value, JobStatus):
        return value
    if not isinstance(value, str):
        raise ValueError("status must be a string")
    try:
        return JobStatus(value)
    except ValueError:
        if value not in _unknown_logged:
            _unknown_logged.add(value)
            log.warning("unknown job status %r from server; treating it as non-terminal", value)
        return value


_UNSAFE_ID = re.compile(r"[/\\\x00-\x1f\x7f-\x9f]")


def job_id_problem(job_id: str) -> str | None:
    """Why a string cannot be a job id, or None when it can.

    Ids are opaque, but they become a path segment (``/api/jobs/{id}``), so an id
    that would name another resource is refused before anything is sent: empty,
    ``.`` or ``..``, containing ``/`` or ``\\``, or control characters — also
    when percent-escaped (``%2F``, ``%2e%2E``), however many times.

    Args:
        job_id: the candidate id.
    """
    if not job_id.strip():
        return "it is empty"
    if len(job_id) > 1024:
        return "it is longer than 1024 characters"
    seen = job_id
    for _ in range(5):  # %252F -> %2F -> /
        if seen in (".", "..") or seen.strip() in (".", ".."):
            return "it names a directory, not a job"
        if _UNSAFE_ID.search(seen):
            return "it contains a slash, a backslash or a control character"
        decoded = unquote(seen) if "%" in seen else seen
        if decoded == seen:
            return None
        seen = decoded
    return "it is percent-escaped too many times"


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )


class Progress(_Wire):
    """How far a running job is.

    Args:
        current: steps done.
        total: steps in all.
        message: the server's human-readable note, if any.
    """

    current: int = 0
    total: int = 0
    message: str | None = None

    @property
    def fraction(self) -> float | None:
        """``current / total`` clamped to [0, 1], or None when the total is unknown (0)."""
        if self.total <= 0:
            return None
        return max(0.0, min(1.0, self.current / self.total))


class JobError(_Wire):
    """Why a job failed.

    Args:
        code: a machine-readable error code.
        message: a human sentence.
        retryable: whether ``POST /api/jobs/{id}/retry`` may be used.
    """

    code: str = "error"
    message: str = ""
    retryable: bool = False


class Job(_Wire):
    """A snapshot of one job, as the submit, status, list, cancel and retry endpoints return it.

    Args:
        job_id: the opaque job id (``jobId``).
        type: the job type.
        status: a ``JobStatus`` or, for a status this client does not know, the raw string.
        status_url: the absolute URL of the job's status resource, when known.
        replayed: True when a submit was answered from the idempotency cache
            (``Idempotent-Replayed: true``); client-side, not a wire field.
        idempotency_key: the key the client sent with the submit; client-side.
    """

    job_id: str
    type: str | None = None
    status: JobStatus | str = JobStatus.PENDING
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    expires_at: datetime | None = None
    estimated_completion: datetime | None = None
    retry_after: float | None = None
    estimated_wait_time: float | None = None
    progress: Progress | None = None
    result_url: str | None = None
    retry_url: str | None = None
    status_url: str | None = None
    events_url: str | None = None
    original_job_id: str | None = None
    output: Any = None
    error: JobError | None = None
    replayed: bool = Field(default=False, exclude=True)
    idempotency_key: str | None = Field(default=None, exclude=True)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> JobStatus | str:
        return _coerce_status(value)

    @field_validator("job_id", "original_job_id")
    @classmethod
    def _job_id(cls, value: str | None) -> str | None:
        problem = None if value is None else job_id_problem(value)
        if problem is not None:
            raise ValueError(f"not a usable job id: {problem}")
        return value

    @property
    def id(self) -> str:
        """The job id."""
        return self.job_id

    @property
    def is_terminal(self) -> bool:
        """True when the job is completed, failed or cancelled."""
        return isinstance(self.status, JobStatus) and self.status.is_terminal

    def raise_for_status(self) -> Job:
        """Raise ``JobFailedError`` or ``JobCancelledError`` for those states; else return self."""
        if self.status == JobStatus.FAILED:
            raise JobFailedError(self)
        if self.status == JobStatus.CANCELLED:
            raise JobCancelledError(self)
        return self


class JobPage(_Wire):
    """One page of ``GET /api/jobs``.

    Args:
        jobs: the jobs on this page, newest first.
        total: how many jobs match the filters in all.
        next_offset: the offset of the next page, or None on the last page.
    """

    jobs: list[Job] = Field(default_factory=list)
    total: int = 0
    next_offset: int | None = None


class JobEvent(_Wire):
    """One thing learnt about a job, from the SSE stream or from a poll.

    Args:
        event: ``status``, ``progress`` or ``complete`` (others are passed through).
        id: the event id (SSE, or the WebSocket feed's position; None for polls).
        status: the job's status when the event says it.
        progress: the job's progress when the event says it.
        result_url: for ``complete`` of a completed job.
        error: for ``complete`` of a failed job.
        data: the event's decoded JSON data, as sent.
        source: ``sse``, ``ws`` (the WebSocket feed, ``strategy="ws"``) or ``poll``.
        job: the full snapshot, when the event came from a poll (or, on a `complete`
            event, the job document the server sent with it); for ``wait_many`` and
            ``as_completed``, always the job's merged snapshot after this event.
        job_id: the job the event is about, when following many jobs at once.
    """

    event: str
    id: str | None = None
    status: JobStatus | str | None = None
    progress: Progress | None = None
    result_url: str | None = None
    error: JobError | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    source: Literal["sse", "ws", "poll"] = "sse"
    job: Job | None = None
    job_id: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> JobStatus | str | None:
        return None if value is None else _coerce_status(value)

    @property
    def is_terminal(self) -> bool:
        """True for the ``complete`` event, or any event reporting a terminal status."""
        if self.event == "complete":
            return True
        return isinstance(self.status, JobStatus) and self.status.is_terminal


class _JobEndedError(JobctlError):
    def __init__(self, job: Job, message: str) -> None:
        super().__init__(message)
        self.job = job


class JobFailedError(_JobEndedError):
    """The job ended ``failed``; ``.job.error`` says why.

    Args:
        job: the failed job.
    """

    def __init__(self, job: Job) -> None:
        err = job.error
        why = f"{err.code}: {err.message}" if err else "no error details"
        hint = " (retryable)" if err and err.retryable else ""
        super().__init__(job, f"job {job.job_id} failed: {why}{hint}")


class JobCancelledError(_JobEndedError):
    """The job ended ``cancelled``.

    Args:
        job: the cancelled job.
    """

    def __init__(self, job: Job) -> None:
        super().__init__(job, f"job {job.job_id} was cancelled")


class WaitTimeoutError(JobctlError):
    """The wait's overall deadline passed while the job was still running.

    Args:
        job: the last snapshot seen (None if none was seen).
        timeout: the deadline in seconds.
        jobs: following many jobs (``wait_many``, ``as_completed``): the last snapshot
            of each unfinished one (``job`` is the first of them).
    """

    def __init__(self, job: Job | None, timeout: float, *, jobs: Sequence[Job] = ()) -> None:
        what = f"job {job.job_id} is still {job.status}" if job else "the job is still running"
        if len(jobs) > 1:
            what = f"{len(jobs)} jobs are still running ({what})"
        super().__init__(f"timed out after {timeout:g}s: {what}")
        self.job = job
        self.timeout = timeout
        self.jobs: list[Job] = list(jobs)
