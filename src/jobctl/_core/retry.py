"""Pure retry logic: ``Retry-After`` parsing, server hints and transport retry decisions.

Nothing here does I/O, reads a clock or draws random numbers: ``now`` (POSIX
seconds) and ``rand`` (a float in ``[0, 1)``) are arguments, so every rule can be
tested exhaustively. The clients feed these decisions to tenacity, which runs the
retry loop with an injectable sleep.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

__all__ = [
    "IDEMPOTENT_METHODS",
    "MAX_HINT_SECONDS",
    "RETRYABLE_STATUSES",
    "FailureKind",
    "Hints",
    "RetryDecision",
    "backoff_delay",
    "decide_retry",
    "extract_hints",
    "parse_retry_after",
    "parse_timestamp",
]

MAX_HINT_SECONDS = 86_400.0
"""Any server hint longer than a day is clamped to a day (then to the caller's cap)."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

FailureKind = Literal["connect", "timeout", "read", "protocol", "other"]
"""How a request failed without a response.

``connect``: no connection was made, so the request was never sent.
``timeout``/``read``/``protocol``: the request may have reached the server.
``other``: not a network problem (bad URL, ...); never retried.
"""

_DELTA = re.compile(r"^\s*(-?\d{1,30})(?:\.\d+)?\s*$")


def _clamp_hint(seconds: float) -> float:
    if math.isnan(seconds):
        return 0.0
    return max(0.0, min(MAX_HINT_SECONDS, seconds))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Parse a ``Retry-After`` value in either of its forms into seconds from ``now``.

    Args:
        value: the header value: delta-seconds (``"120"``) or an HTTP-date
            (``"Fri, 27 Nov 2026 18:00:00 GMT"``).
        now: the current time, POSIX seconds.

    Returns:
        Seconds to wait, clamped to ``[0, MAX_HINT_SECONDS]`` (negative values and
        dates in the past give 0), or None when the value is absent or malformed.
    """
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 200:
        return None
    match = _DELTA.match(value)
    if match:
        return _clamp_hint(float(int(match.group(1))))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return _clamp_hint(when.timestamp() - now)
    except (OverflowError, ValueError, OSError):
        return None


def parse_timestamp(value: Any) -> float | None:
    """Parse an RFC 3339 timestamp (``2026-11-27T17:40:00.123Z``) into POSIX seconds.

    Args:
        value: the wire value; anything that is not such a string gives None.
    """
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and 0 < len(value) <= 64:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class Hints:
    """What the server said about when to ask again.

    Args:
        retry_after: seconds until the next request (``Retry-After`` header, else
            body ``retryAfter``), or None.
        upper: an upper bound from ``estimatedCompletion`` (seconds until the job
            should be done), or None.
    """

    retry_after: float | None = None
    upper: float | None = None


def extract_hints(headers: Mapping[str, str], body: Any, now: float) -> Hints:
    """Read the server's polling hints: ``Retry-After`` first, then body fields.

    Args:
        headers: the response headers (case-insensitive mapping preferred).
        body: the decoded JSON body, or anything else (ignored when not a dict).
        now: the current time, POSIX seconds.
    """
    retry_after = parse_retry_after(_header(headers, "retry-after"), now)
    upper: float | None = None
    if isinstance(body, Mapping):
        if retry_after is None:
            raw = body.get("retryAfter")
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                retry_after = _clamp_hint(float(raw))
        eta = parse_timestamp(body.get("estimatedCompletion"))
        if eta is not None:
            upper = _clamp_hint(eta - now)
    return Hints(retry_after=retry_after, upper=upper)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        for key, val in headers.items():
            if key.lower() == name:
                return val
    return value


@dataclass(frozen=True)
class RetryDecision:
    """Whether to retry one failed attempt, after how long, and why.

    Args:
        retry: True to send the request again.
        delay: seconds to wait first (0 when not retrying).
        reason: a short sentence for the DEBUG log.
    """

    retry: bool
    delay: float
    reason: str


def backoff_delay(attempt: int, rand: float, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random.

    Args:
        attempt: 1 for the first retry, 2 for the second, ...
        rand: a random float in ``[0, 1)``.
        base: the delay before the first retry (before jitter).
        cap: the largest delay.
    """
    exp = base * (2.0 ** min(max(attempt - 1, 0), 60))
    top = min(cap, exp)
    rand = min(max(rand, 0.0), 1.0)
    return top / 2.0 + (top / 2.0) * rand


def decide_retry(
    *,
    method: str,
    attempt: int,
    max_retries: int,
    status: int | None = None,
    failure: FailureKind | None = None,
    retry_after: float | None = None,
    has_idempotency_key: bool = False,
    rand: float = 0.5,
    cap: float = 30.0,
) -> RetryDecision:
    """Decide whether the transport should retry a request.

    Retried: connection failures; ``429``, ``502``, ``503``, ``504``; ``500`` on
    idempotent methods. A POST is retried only when it carries an
    ``Idempotency-Key`` (or when the connection was never made, so nothing was sent).
    The delay is exponential backoff with jitter, at least ``Retry-After`` when the
    server sent one, never more than ``cap``.

    Args:
        method: the HTTP method.
        attempt: how many attempts have been made so far (1 after the first).
        max_retries: how many retries are allowed in all.
        status: the response status, or None when no response arrived.
        failure: why no response arrived (see ``FailureKind``).
        retry_after: the server's ``Retry-After`` in seconds, parsed.
        has_idempotency_key: whether the request carries an ``Idempotency-Key``.
        rand: a random float in ``[0, 1)`` for the jitter.
        cap: the largest delay in seconds.
    """
    method = method.upper()
    if status is not None:
        if status < 400:
            return RetryDecision(False, 0.0, f"status {status} is a success")
        if status not in RETRYABLE_STATUSES and not (
            status == 500 and method in IDEMPOTENT_METHODS
        ):
            return RetryDecision(False, 0.0, f"status {status} is not retryable")
        what = f"status {status}"
    elif failure is not None:
        if failure == "other":
            return RetryDecision(False, 0.0, "the failure is not a network error")
        what = {
            "connect": "the connection could not be made",
            "timeout": "the request timed out",
            "read": "the connection broke",
            "protocol": "the connection was reset mid-answer",
        }[failure]
    else:
        return RetryDecision(False, 0.0, "nothing failed")
    sent = status is not None or failure != "connect"
    if sent and method not in IDEMPOTENT_METHODS and not has_idempotency_key:
        return RetryDecision(False, 0.0, f"{what}; {method} without Idempotency-Key is not retried")
    if attempt > max_retries:
        return RetryDecision(False, 0.0, f"{what}; gave up after {max_retries} retries")
    delay = backoff_delay(attempt, rand, cap=cap)
    why = "backoff"
    if retry_after is not None:
        hinted = min(cap, _clamp_hint(retry_after))
        if hinted > delay:
            delay, why = hinted, "Retry-After"
    delay = min(delay, cap)
    return RetryDecision(
        True, delay, f"{what}; retry {attempt}/{max_retries} in {delay:.2f}s ({why})"
    )
