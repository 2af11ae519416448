"""The one retry policy: what is retried, how often, with which delay, under which deadline.

Every retry the SDK makes is decided here, by one function (``decide``) reading
one row of one table (``RetryPolicy``); the loops that act on the decisions are
flows (``flows/requests.py``, ``flows/follow.py``, ``flows/download.py``) and
every pause they make is a ``Sleep`` effect a test can see.

The rows (``retries`` counts the tries after the first; ``n`` is the retry's number):

- ``request`` — one HTTP request got no answer (refused, reset, timed out) or
  ``429``/``502``/``503``/``504`` (``500`` on an idempotent method, or on a keyed
  request of any async API: ``call``, OPERATIONS.md). Retried for
  GET, HEAD, OPTIONS, PUT and DELETE; for POST and PATCH only with an
  ``Idempotency-Key``, or when no connection was made (nothing was sent).
  ``max_retries`` (4) retries; pause 0.5 s x 2^(n-1), at most 30 s, equal jitter
  (half fixed, half random); a longer ``Retry-After`` is honoured up to 30 s.
- ``in_flight`` — a keyed POST answered ``409``: the first request with the key
  is still being processed. 6 retries; 0.2 s x 2^(n-1), at most 2 s, ±25 %;
  ``Retry-After`` honoured up to 5 s.
- ``stream_refused`` — an event stream's (re)connect got no answer or
  ``429``/``5xx`` (the server is away or shedding load; not the stream
  dropping). ``max_retries`` x 4 (16) retries; 0.5 s x 2^(n-1), at most 4 s,
  equal jitter; ``Retry-After`` honoured up to 30 s. Then the wait falls back
  to polling (``strategy="sse"``: the error is raised).
- ``stream_drop`` — an open event stream ended before the job did. 4 drops in a
  row without a new event are retried, the 5th falls back to polling; pause:
  the server's ``retry:`` (else 1 s) x 1.5^(n-1), at most 30 s or ``retry:``
  when that is longer, no jitter.
- ``poll_outage`` — a poll still failed after its own ``request`` retries (a
  server restart). 3 more rounds; the poll pacing's ``initial`` x
  ``factor``^n, at most ``max_interval``, ± ``jitter``.
- ``download_cut`` — a result download was cut short (it resumes with
  ``Range``). ``max_retries`` (4) retries, paced as ``request``.

Under a deadline, no retry starts once it has passed, and a pause is cut so
that the next try starts by the deadline. Nothing here does I/O, reads a clock
or draws random numbers: ``now``, ``left`` and ``rand`` are arguments.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .polling import PollPolicy

__all__ = [
    "IDEMPOTENT_METHODS",
    "MAX_HINT_SECONDS",
    "RETRYABLE_STATUSES",
    "Failure",
    "FailureKind",
    "Hints",
    "RetryDecision",
    "RetryPolicy",
    "Rule",
    "classify",
    "decide",
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
class Failure:
    """What went wrong with one attempt: an error status, or no answer at all.

    Args:
        status: the response status, or None when no response arrived.
        kind: why no response arrived (see ``FailureKind``), when ``status`` is None.
        retry_after: the server's ``Retry-After`` in seconds, parsed.
    """

    status: int | None = None
    kind: FailureKind | None = None
    retry_after: float | None = None

    def describe(self) -> str:
        """The failure in a few words, for log lines and errors."""
        if self.status is not None:
            return f"status {self.status}"
        return {
            "connect": "the connection could not be made",
            "timeout": "the request timed out",
            "read": "the connection broke",
            "protocol": "the connection was reset mid-answer",
            "other": "the request failed",
            None: "nothing failed",
        }[self.kind]


def classify(method: str, failure: Failure, *, keyed: bool, repeatable: bool = False) -> str | None:
    """Why one failed request may not be retried, or None when it may.

    Retryable: connection failures and timeouts; ``429``, ``502``, ``503``,
    ``504``; ``500`` on idempotent methods. A request that may have reached the
    server (anything but a refused connection) is retried only when its method
    is idempotent or it carries an ``Idempotency-Key``.

    Args:
        method: the HTTP method.
        failure: what went wrong.
        keyed: whether the request carries an ``Idempotency-Key``.
        repeatable: its caller vouches that sending it again is harmless, whatever its
            method (a keyed request to any async API, OPERATIONS.md): it is treated as
            idempotent, a ``500`` included. Our own keyed submit is not: a ``500``
            from a jobctl server is a bug there, not a passing failure.
    """
    method = method.upper()
    idempotent = repeatable or method in IDEMPOTENT_METHODS
    what = failure.describe()
    if failure.status is not None:
        status = failure.status
        if status < 400:
            return f"status {status} is a success"
        if status not in RETRYABLE_STATUSES and not (status == 500 and idempotent):
            return f"status {status} is not retryable"
    elif failure.kind is None or failure.kind == "other":
        return f"{what}: not a network error"
    sent = failure.status is not None or failure.kind != "connect"
    if sent and not idempotent and not keyed:
        return f"{what}; {method} without Idempotency-Key is not retried"
    return None


@dataclass(frozen=True)
class RetryDecision:
    """Whether to try again, after how long, and why.

    Args:
        retry: True to try again.
        delay: seconds to wait first (0 when not retrying).
        reason: a short sentence for the DEBUG log.
    """

    retry: bool
    delay: float
    reason: str


Jitter = Literal["equal", "spread", "none"]


@dataclass(frozen=True)
class Rule:
    """One row of the decision table: how often, and with which pauses.

    Args:
        name: the row's name (in log lines).
        retries: how many tries may follow the first one.
        first: the pause before the first retry, before jitter.
        factor: each further pause is the previous one times this.
        cap: the longest computed pause (a longer ``first`` given to ``decide`` raises it).
        jitter: ``equal`` (half fixed, half random), ``spread`` (± ``spread``) or ``none``.
        spread: the relative spread for ``jitter="spread"``.
        hint_cap: a ``Retry-After`` longer than the computed pause is honoured up
            to this many seconds; None ignores ``Retry-After``.
        floor: the shortest pause.
    """

    name: str
    retries: int
    first: float
    factor: float
    cap: float
    jitter: Jitter = "equal"
    spread: float = 0.0
    hint_cap: float | None = None
    floor: float = 0.0

    def pause(self, attempt: int, rand: float, first: float | None = None) -> float:
        """The computed pause before retry ``attempt`` (1 for the first retry).

        Args:
            attempt: 1 for the first retry, 2 for the second, ...
            rand: a random float in ``[0, 1)``.
            first: replaces ``self.first`` (e.g. the server's SSE ``retry:``); a
                larger value also raises the cap.
        """
        rand = min(max(rand, 0.0), 1.0) if math.isfinite(rand) else 0.5
        base = self.first if first is None else max(0.0, first)
        cap = max(self.cap, base)
        try:
            top = base * self.factor ** min(max(attempt - 1, 0), 200)
        except OverflowError:
            top = cap
        top = min(cap, top)
        if self.jitter == "equal":
            delay = top / 2.0 + (top / 2.0) * rand
        elif self.jitter == "spread":
            delay = top * (1.0 + self.spread * (2.0 * rand - 1.0))
        else:
            delay = top
        return max(self.floor, delay)


def decide(
    rule: Rule,
    attempt: int,
    *,
    rand: float,
    retry_after: float | None = None,
    first: float | None = None,
    left: float | None = None,
    what: str = "",
) -> RetryDecision:
    """Decide on retry number ``attempt`` under ``rule``: the one place that does.

    Args:
        rule: the row of the table.
        attempt: 1 for the first retry, 2 for the second, ...
        rand: a random float in ``[0, 1)`` for the jitter.
        retry_after: the server's ``Retry-After`` in seconds, if any.
        first: replaces the rule's first pause (see ``Rule.pause``).
        left: seconds left before the deadline (None: no deadline).
        what: what failed, for the reason.
    """
    prefix = f"{what}; " if what else ""
    if attempt > rule.retries:
        return RetryDecision(False, 0.0, f"{prefix}gave up after {rule.retries} retries")
    if left is not None and left <= 0:
        return RetryDecision(False, 0.0, f"{prefix}not retried: the deadline has passed")
    delay = rule.pause(attempt, rand, first)
    why = "backoff"
    if rule.hint_cap is not None and retry_after is not None and not math.isnan(retry_after):
        hinted = min(rule.hint_cap, _clamp_hint(retry_after))
        if hinted > delay:
            delay, why = hinted, "Retry-After"
    if left is not None and delay > left:
        delay, why = left, f"{why}, cut to the deadline"
    return RetryDecision(
        True, delay, f"{prefix}retry {attempt}/{rule.retries} in {delay:.2f}s ({why})"
    )


@dataclass(frozen=True)
class RetryPolicy:
    """The decision table, sized by a client's ``max_retries`` and poll pacing.

    Args:
        request: one HTTP request's transport retries.
        in_flight: a keyed POST answered ``409`` "still in flight".
        stream_refused: an event stream's (re)connect refused or unanswered.
        stream_drop: an open event stream that ended early.
        poll_outage: a poll that failed after its own retries.
        download_cut: a result download cut short.
    """

    request: Rule
    in_flight: Rule
    stream_refused: Rule
    stream_drop: Rule
    poll_outage: Rule
    download_cut: Rule

    @classmethod
    def for_client(cls, max_retries: int, poll: PollPolicy) -> RetryPolicy:
        """The table for a client (see the module docstring for the rows).

        Args:
            max_retries: the client's transport retries per request.
            poll: the client's poll pacing (paces ``poll_outage``).
        """
        request = Rule("request", max_retries, 0.5, 2.0, 30.0, "equal", hint_cap=30.0)
        return cls(
            request=request,
            in_flight=Rule("in-flight", 6, 0.2, 2.0, 2.0, "spread", spread=0.25, hint_cap=5.0),
            stream_refused=Rule(
                "stream-refused", max_retries * 4, 0.5, 2.0, 4.0, "equal", hint_cap=30.0
            ),
            stream_drop=Rule("stream-drop", 4, 1.0, 1.5, 30.0, "none"),
            poll_outage=Rule(
                "poll-outage",
                3,
                poll.initial * poll.factor,
                poll.factor,
                poll.max_interval,
                "spread",
                spread=poll.jitter,
                floor=0.05,
            ),
            download_cut=Rule("download-cut", max_retries, 0.5, 2.0, 30.0, "equal"),
        )
