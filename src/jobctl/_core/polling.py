"""Pure polling logic: ``PollPolicy``, the next poll delay, status interpretation.

The rules of docs/sdk.md: a computed delay is ``min(max_interval, initial * factor**n)``
with jitter; a server hint (``Retry-After`` header, then body ``retryAfter``)
replaces it; ``estimatedCompletion`` bounds it from above; the result is clamped
to ``[MIN_DELAY, max_interval]`` and never reaches past the deadline. No clock and
no randomness inside: ``remaining`` and ``rand`` are arguments.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgumentError
from ..models import Job, JobEvent, JobStatus, Progress

__all__ = [
    "MIN_DELAY",
    "PollPolicy",
    "completed_from_redirect",
    "event_from_job",
    "long_poll_seconds",
    "new_idempotency_key",
    "next_delay",
    "preference_applied_wait",
]

MIN_DELAY = 0.05
"""The shortest pause between two polls, in seconds."""

_WAIT_PREF = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d{1,9})\"?", re.IGNORECASE)


@dataclass(frozen=True)
class PollPolicy:
    """How to pace polls of a job's status.

    Args:
        initial: the first delay between polls, seconds.
        factor: each further delay is the previous one times this (>= 1).
        max_interval: the longest delay between polls, seconds.
        jitter: relative random spread of a computed delay (0.1 = ±10 %).
        long_poll: seconds to ask the server to hold a status request
            (``Prefer: wait=N``); 0 disables long polling.
    """

    initial: float = 1.0
    factor: float = 1.5
    max_interval: float = 30.0
    jitter: float = 0.1
    long_poll: float = 30.0

    def __post_init__(self) -> None:
        for name in ("initial", "factor", "max_interval", "jitter", "long_poll"):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
            ):
                raise InvalidArgumentError(
                    f"PollPolicy.{name} must be a finite number, got {value!r}"
                )
        if self.initial <= 0:
            raise InvalidArgumentError("PollPolicy.initial must be > 0")
        if self.factor < 1:
            raise InvalidArgumentError("PollPolicy.factor must be >= 1")
        if self.max_interval < MIN_DELAY:
            raise InvalidArgumentError(f"PollPolicy.max_interval must be >= {MIN_DELAY}")
        if not 0 <= self.jitter <= 1:
            raise InvalidArgumentError("PollPolicy.jitter must be between 0 and 1")
        if self.long_poll < 0:
            raise InvalidArgumentError("PollPolicy.long_poll must be >= 0")


def next_delay(
    policy: PollPolicy,
    attempt: int,
    *,
    hint: float | None,
    remaining: float | None,
    rand: float,
    upper: float | None = None,
    hint_cap: float | None = None,
) -> float:
    """The pause before the next poll.

    Args:
        policy: the pacing settings.
        attempt: how many polls were paced before this one (0 for the first).
        hint: the server's hint in seconds (``Retry-After`` / ``retryAfter``), or None.
        remaining: seconds left before the caller's deadline, or None for no deadline.
        rand: a random float in ``[0, 1)`` for the jitter.
        upper: an upper bound from ``estimatedCompletion``, or None.
        hint_cap: the longest hint honoured (default ``policy.max_interval``; the
            operations of any API honour up to 5 minutes).

    Returns:
        Seconds, within ``[MIN_DELAY, policy.max_interval]`` and never more than
        ``remaining`` (which may make it smaller than ``MIN_DELAY``, never negative).
    """
    rand = min(max(rand, 0.0), 1.0) if math.isfinite(rand) else 0.5
    if hint is not None and math.isfinite(hint):
        # A hint is a "not before": jitter only spreads it upwards.
        delay = max(hint, 0.0) * (1.0 + policy.jitter * rand)
    else:
        exponent = min(max(attempt, 0), 200)
        try:
            base = policy.initial * policy.factor**exponent
        except OverflowError:
            base = policy.max_interval
        base = min(policy.max_interval, base)
        delay = base * (1.0 + policy.jitter * (2.0 * rand - 1.0))
    if upper is not None and math.isfinite(upper):
        delay = min(delay, max(upper, 0.0))
    cap = policy.max_interval
    if hint is not None and math.isfinite(hint) and hint_cap is not None:
        cap = max(cap, hint_cap)
    delay = min(cap, max(MIN_DELAY, delay))
    if remaining is not None:
        delay = min(delay, max(remaining, 0.0))
    return delay


def long_poll_seconds(policy: PollPolicy, remaining: float | None) -> int:
    """Whole seconds to ask for with ``Prefer: wait=N``; 0 means "don't long-poll".

    Args:
        policy: the pacing settings (``long_poll`` caps the wait).
        remaining: seconds left before the deadline, or None.
    """
    wait = policy.long_poll if remaining is None else min(policy.long_poll, remaining)
    return int(wait) if wait >= 1 else 0


def preference_applied_wait(value: str | None) -> int | None:
    """The ``wait`` the server says it honoured in ``Preference-Applied``, or None.

    Args:
        value: the ``Preference-Applied`` header value.
    """
    if not value:
        return None
    match = _WAIT_PREF.search(value)
    return int(match.group(1)) if match else None


def completed_from_redirect(job_id: str, status_url: str, location: str) -> Job:
    """The job a ``303 See Other`` from its status URL stands for: completed.

    Args:
        job_id: the job's id.
        status_url: the status URL that answered 303.
        location: the (resolved) ``Location``: the result URL.
    """
    return Job(
        job_id=job_id,
        status=JobStatus.COMPLETED,
        status_url=status_url,
        result_url=location,
    )


def new_idempotency_key() -> str:
    """A fresh ``Idempotency-Key``: a random UUID4 (reused by every retry of one call)."""
    return str(uuid.uuid4())


def event_from_job(job: Job, previous: Job | None) -> JobEvent | None:
    """The event a poll reveals, compared with the previous poll; None if nothing changed.

    Args:
        job: the snapshot just read.
        previous: the snapshot before it, or None for the first poll.
    """
    data: dict[str, Any] = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    if job.is_terminal:
        kind = "complete"
    elif previous is None or previous.status != job.status:
        kind = "status"
    elif _progress_key(previous.progress) != _progress_key(job.progress):
        kind = "progress"
    else:
        return None
    return JobEvent(
        event=kind,
        status=job.status,
        progress=job.progress,
        result_url=job.result_url,
        error=job.error,
        data=data,
        source="poll",
        job=job,
    )


def _progress_key(progress: Progress | None) -> tuple[int, int, str | None] | None:
    if progress is None:
        return None
    return (progress.current, progress.total, progress.message)
