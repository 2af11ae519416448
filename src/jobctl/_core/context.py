"""What every flow knows about its client: the API, the clock, the pacing, the retry table.

``Context`` is made once per client (``jobctl._io.base``) and handed to every
flow. ``Runtime`` is the clock and randomness, injected by tests. ``Context.auth``
is the credentials rule: the token (or the base URL's own user and password) goes
only to the origin of the base URL it was configured with — never to another
origin, whether a server named it (a ``Location``, a status, events or result
URL, a redirect) or the caller passed a status URL on it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .deadline import NO_DEADLINE, Deadline
from .http import Request
from .polling import PollPolicy
from .retry import RetryPolicy
from .urls import origin, resolve_url

__all__ = ["Context", "Runtime"]


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

    def deadline(self, timeout: Any) -> Deadline:
        """A ``Deadline`` ``timeout`` seconds from now (None: no deadline).

        Args:
            timeout: seconds, None, or a ``Deadline`` (returned as it is).

        Raises:
            InvalidArgumentError: for NaN, negative or non-numeric timeouts.
        """
        if isinstance(timeout, Deadline):
            return timeout
        return Deadline.after(timeout, self.clock()) if timeout is not None else NO_DEADLINE

    def left(self, deadline: Deadline) -> float | None:
        """Seconds left before ``deadline`` now (None: no deadline; may be <= 0).

        Args:
            deadline: the deadline.
        """
        return deadline.left(self.clock())


@dataclass(frozen=True)
class Context:
    """What every flow needs to know about the client.

    Args:
        base_url: the API base URL (no trailing slash).
        policy: the poll pacing.
        runtime: clocks and randomness.
        max_retries: transport retries per request.
    """

    base_url: str
    policy: PollPolicy = field(default_factory=PollPolicy)
    runtime: Runtime = field(default_factory=Runtime)
    max_retries: int = 4
    retry: RetryPolicy = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry", RetryPolicy.for_client(self.max_retries, self.policy))

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
        """Whether the credentials may go to this URL: only to the base URL's origin.

        Args:
            url: an absolute URL.
        """
        try:
            return origin(url) == origin(self.base_url)
        except ValueError:
            return False

    def request(self, method: str, url: str, **kwargs: Any) -> Request:
        """A ``Request`` with ``auth`` decided by the origin rule.

        Args:
            method: the HTTP method.
            url: the absolute URL.
            **kwargs: further ``Request`` fields.
        """
        return Request(method, url, auth=self.auth(url), **kwargs)
