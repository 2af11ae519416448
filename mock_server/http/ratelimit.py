"""Per-token rate limiting (``--rate-limit N/s``): a token bucket answering 429 + Retry-After."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from .middleware import API_PREFIXES
from .problems import problem_response

__all__ = ["RateLimitMiddleware", "TokenBucket"]

_EXEMPT = ("/api/_stats", "/api/_faults")


class TokenBucket:
    """A bucket of ``rate`` tokens per second holding at most ``burst``.

    Args:
        rate: tokens added per second.
        burst: capacity (at least 1).
        clock: monotonic time source.
    """

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.clock = clock
        self.tokens = self.burst
        self.stamp = clock()

    def take(self) -> float:
        """Take a token; returns 0 on success, else the seconds until one is available."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimitMiddleware:
    """Limits authenticated requests (``/api``, the dialects) per token; admin ones are exempt.

    Args:
        app: the inner app.
        rate: requests per second per token (None: no limit).
        clock: monotonic time source.
    """

    def __init__(
        self, app: ASGIApp, rate: float | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.rate = rate
        self.clock = clock
        self.buckets: dict[str, TokenBucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            self.rate is None
            or scope["type"] not in ("http", "websocket")
            or not path.startswith(API_PREFIXES)
            or path.startswith(_EXEMPT)
        ):
            await self.app(scope, receive, send)
            return
        client = str(scope.get("state", {}).get("client", "-"))
        bucket = self.buckets.get(client)
        if bucket is None:
            bucket = self.buckets[client] = TokenBucket(self.rate, self.rate, self.clock)
        wait = bucket.take()
        if wait > 0:
            retry = max(1, math.ceil(wait))
            await problem_response(
                429,
                f"rate limit of {self.rate:g} requests per second exceeded",
                headers={"Retry-After": str(retry)},
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)
