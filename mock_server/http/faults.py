"""Fault injection: 503, 429, connection resets (before and after the work), slow, sse-drop.

WebSocket upgrades (``/api/ws``) draw like any request: ``503``/``429`` refuse the
upgrade with the problem answer, ``reset`` drops it, ``slow`` delays it, and
``sse-drop`` cuts the connection after 1-3 events (``ws.py``).

A fault is drawn per request to ``/api`` or a dialect's routes (the paths of
``middleware.API_PREFIXES``) from a seeded generator; ``/healthz``,
``/api/_stats`` and ``/api/_faults`` are never touched. Faults never corrupt
state: a ``reset`` after the work aborts only the answer, the job is stored.
A reset is a real dropped TCP connection (the transport is aborted with
SO_LINGER 0, so the client sees a reset, not a 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .middleware import API_PREFIXES
from .problems import problem_response

__all__ = ["FaultMiddleware", "FaultSettings", "abort_connection"]

_EXEMPT = ("/api/_stats", "/api/_faults")


@dataclass
class FaultSettings:
    """The fault settings in force (changed at run time with ``PUT /api/_faults``).

    Args:
        rate: probability of a fault per request.
        kinds: the faults to choose from.
        seed: the generator's seed (None: unpredictable).
        slow_delay: seconds the ``slow`` fault adds.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = ()
    seed: int | None = None
    slow_delay: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def update(self, rate: float, kinds: tuple[str, ...], seed: int | None) -> None:
        """Replace the settings and reseed.

        Args:
            rate: probability of a fault per request.
            kinds: the faults to choose from.
            seed: new seed.
        """
        self.rate, self.kinds, self.seed = rate, kinds, seed
        self.rng = random.Random(seed)

    def draw(self, *, is_events: bool, is_write: bool) -> str | None:
        """The fault for one request, or None.

        Args:
            is_events: the request is an SSE stream (``sse-drop`` applies).
            is_write: the request stores something (``reset`` may come after it).
        """
        if self.rate <= 0 or not self.kinds or self.rng.random() >= self.rate:
            return None
        kinds = [k for k in self.kinds if k != "sse-drop" or is_events]
        if not kinds:
            return None
        kind = self.rng.choice(kinds)
        if kind == "reset" and is_write and self.rng.random() < 0.5:
            kind = "reset-after"
        if kind == "reset-after" and not is_write:
            kind = "reset"
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    def as_json(self) -> dict[str, Any]:
        """The settings as the ``/api/_faults`` body."""
        return {
            "faultRate": self.rate,
            "faults": list(self.kinds),
            "faultSeed": self.seed,
            "injected": dict(self.injected),
        }


async def abort_connection(scope: Scope) -> None:
    """Drop the client's TCP connection without an answer (RST).

    Args:
        scope: the request's scope (the transport is stored there by AccessMiddleware).
    """
    transport = scope.get("state", {}).get("transport")
    if transport is None:
        raise ConnectionResetError("fault injection: connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(3):
        await asyncio.sleep(0)


_WRITES = re.compile(
    r"POST /api/jobs(?:/[^/]+/retry)?"
    r"|POST /azure/jobs:start|(?:PUT|PATCH) /azure/resources/[^/]+"
    r"|POST /azure/resources/[^/]+/run|POST /google/v1/jobs:run|POST /location/jobs"
)
"""The requests that store a new job: a reset may come after the job was stored."""


def _is_write(scope: Scope) -> bool:
    return _WRITES.fullmatch(f"{scope['method']} {scope['path']}") is not None


class FaultMiddleware:
    """Injects the drawn fault into requests to ``/api`` and the dialects' routes.

    Args:
        app: the inner app.
        settings: the shared fault settings.
    """

    def __init__(self, app: ASGIApp, settings: FaultSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] not in ("http", "websocket")
            or not path.startswith(API_PREFIXES)
            or path.startswith(_EXEMPT)
        ):
            await self.app(scope, receive, send)
            return
        is_write = scope["type"] == "http" and _is_write(scope)
        is_events = path.endswith("/events") or scope["type"] == "websocket"
        kind = self.settings.draw(is_events=is_events, is_write=is_write)
        if kind is None:
            await self.app(scope, receive, send)
        elif kind in ("503", "429"):
            detail = (
                "fault injection: service unavailable"
                if kind == "503"
                else "fault injection: too many requests"
            )
            await problem_response(int(kind), detail, headers={"Retry-After": "1"})(
                scope, receive, send
            )
        elif kind == "reset":
            await abort_connection(scope)
        elif kind == "reset-after":
            await self._reset_after(scope, receive)
        elif kind == "slow":
            if is_write:  # the handler waits after reserving its idempotency key
                scope.setdefault("state", {})["slow_delay"] = self.settings.slow_delay
            else:
                await asyncio.sleep(self.settings.slow_delay)
            await self.app(scope, receive, send)
        else:  # sse-drop
            scope.setdefault("state", {})["sse_drop_after"] = self.settings.rng.randint(1, 3)
            await self.app(scope, receive, send)

    async def _reset_after(self, scope: Scope, receive: Receive) -> None:
        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        await abort_connection(scope)
