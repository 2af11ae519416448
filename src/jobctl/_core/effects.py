"""The effects flows yield, and what every flow knows: context, runtime, targets.

A flow is a generator: it yields an *effect* — ``Send`` a request, ``Open`` a
stream, ``Read`` a chunk, ``Close`` it, ``Sleep``, ``Emit`` a value to the caller —
and receives the effect's result (or has its exception thrown in). The clients
only perform effects; see ``_flows``, ``_follow`` and ``_download`` for the flows.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from ..errors import InvalidArgumentError
from ..models import Job
from .http import Request, origin, resolve_url
from .polling import PollPolicy

__all__ = [
    "Close",
    "Context",
    "Effect",
    "Emit",
    "Flow",
    "JobRef",
    "Open",
    "Read",
    "Runtime",
    "Send",
    "Sleep",
    "Target",
    "target_of",
]

JobRef = Job | str
"""A job, a job id, or the job's status URL."""


@dataclass(frozen=True)
class Send:
    """Send a request and read its (bounded) body; result: ``Reply``."""

    request: Request


@dataclass(frozen=True)
class Open:
    """Send a request and keep the body open; result: ``Reply`` (``.stream`` set on 2xx)."""

    request: Request


@dataclass(frozen=True)
class Read:
    """Read the next chunk of an open stream; result: bytes (``b""`` at the end)."""

    stream: Any


@dataclass(frozen=True)
class Close:
    """Close an open stream; result: None."""

    stream: Any


@dataclass(frozen=True)
class Sleep:
    """Pause; result: None."""

    seconds: float


@dataclass(frozen=True)
class Emit:
    """Hand a value to the caller (an event, a job, download progress); result: None."""

    value: Any


Effect = Send | Open | Read | Close | Sleep | Emit
Flow = Generator[Effect, Any, Any]


@dataclass(frozen=True)
class Runtime:
    """The clock and randomness the flows use (injected in tests).

    Args:
        clock: a monotonic clock for deadlines, seconds.
        wall: the wall clock (POSIX seconds) for HTTP dates.
        rand: a source of floats in ``[0, 1)`` for jitter.
    """

    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random


@dataclass(frozen=True)
class Context:
    """What every flow needs to know about the client.

    Args:
        base_url: the API base URL (no trailing slash).
        policy: the poll pacing.
        runtime: clocks and randomness.
        max_retries: transport retries per request.
        trusted: origins the API token may be sent to (the base URL's, plus the
            origin of a status URL the caller passed explicitly).
    """

    base_url: str
    policy: PollPolicy = field(default_factory=PollPolicy)
    runtime: Runtime = field(default_factory=Runtime)
    max_retries: int = 4
    trusted: frozenset[tuple[str, str, int | None]] = frozenset()

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/api/jobs``.

        Args:
            path: the path, starting with ``/``.
        """
        return self.base_url.rstrip("/") + path

    def resolve(self, ref: str) -> str:
        """Resolve a server-given URL (maybe relative) against the base URL.

        Args:
            ref: the URL.
        """
        return resolve_url(self.base_url, ref)

    def auth(self, url: str) -> bool:
        """Whether the API token may go to this URL (only to trusted origins).

        Args:
            url: an absolute URL.
        """
        try:
            where = origin(url)
        except ValueError:
            return False
        return where == origin(self.base_url) or where in self.trusted

    def request(self, method: str, url: str, **kwargs: Any) -> Request:
        """A ``Request`` with ``auth`` decided by the origin rule.

        Args:
            method: the HTTP method.
            url: the absolute URL.
            **kwargs: further ``Request`` fields.
        """
        return Request(method, url, auth=self.auth(url), **kwargs)


@dataclass(frozen=True)
class Target:
    """A job reference made concrete: its id and URLs.

    Args:
        job_id: the job id.
        status_url: the status URL.
        events_url: the events URL.
        job: the snapshot the caller passed, if any.
    """

    job_id: str
    status_url: str
    events_url: str
    job: Job | None = None


_URL = re.compile(r"^https?://", re.IGNORECASE)


def target_of(ctx: Context, ref: JobRef) -> tuple[Context, Target]:
    """Resolve a job reference; a status URL's origin becomes trusted for this call.

    Args:
        ctx: the client context.
        ref: a ``Job``, a job id, or a status URL.
    """
    if isinstance(ref, Job):
        url = ref.status_url
        if not url or not ctx.auth(ctx.resolve(url)):
            url = ctx.url("/api/jobs/" + quote(ref.job_id, safe=""))
        url = ctx.resolve(url)
        events = ctx.resolve(ref.events_url) if ref.events_url else url.rstrip("/") + "/events"
        if not ctx.auth(events):
            events = url.rstrip("/") + "/events"
        return ctx, Target(ref.job_id, url, events, ref)
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgumentError("a job must be a Job, a job id or a status URL")
    ref = ref.strip()
    if _URL.match(ref):
        url = ref.split("#", 1)[0].split("?", 1)[0].rstrip("/")
        job_id = url.rsplit("/", 1)[-1]
        if not job_id:
            raise InvalidArgumentError(f"not a job status URL: {ref!r}")
        ctx = replace(ctx, trusted=ctx.trusted | {origin(url)})
        return ctx, Target(job_id, url, url + "/events")
    if "/" in ref or any(ch.isspace() or not ch.isprintable() for ch in ref):
        raise InvalidArgumentError(f"not a job id: {ref!r}")
    url = ctx.url("/api/jobs/" + quote(ref, safe=""))
    return ctx, Target(ref, url, url + "/events")
