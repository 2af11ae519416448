"""The effects a flow yields, and the typed helpers flows use to yield them.

A flow is a generator: it yields an *effect* — ``Send`` a request, ``Open`` a
stream, ``Read`` a chunk, ``Close`` it, ``Sleep``, ``Emit`` a value to the
caller; ``Connect`` a WebSocket, ``Transmit`` a message on it (``Read`` and
``Close`` serve it too) — and receives the effect's result (or has its exception thrown in). The
clients (``jobctl._io``) only perform effects; every decision is the flow's.

Flows never write ``yield Send(...)`` themselves: they ``yield from`` the
helpers below (``reply = yield from send_once(req)``), whose return types mypy
checks, so what each yield gives back is typed in one place. A test checks that
effects are constructed nowhere else.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar, cast

from .http import Reply, Request, SocketClosed

__all__ = [
    "Close",
    "Connect",
    "Effect",
    "Emit",
    "Flow",
    "Open",
    "Read",
    "Send",
    "Sleep",
    "Transmit",
    "close",
    "connect",
    "counted",
    "emit",
    "open_once",
    "read",
    "receive",
    "send_once",
    "sleep",
    "transmit",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Send a request once and read its (bounded) body; result: ``Reply``."""

    request: Request


@dataclass(frozen=True)
class Open:
    """Send a request once and keep the body open; result: ``Reply`` (``.stream`` on 2xx)."""

    request: Request


@dataclass(frozen=True)
class Connect:
    """Open a WebSocket (the ``GET`` upgrade of ``request``); result: ``Reply``.

    ``.stream`` is the open socket when the server switched protocols (status 101);
    a refused upgrade is a ``Reply`` with the server's status, headers and body.
    """

    request: Request


@dataclass(frozen=True)
class Transmit:
    """Send one text message on an open WebSocket; result: None."""

    stream: Any
    text: str


@dataclass(frozen=True)
class Read:
    """Read the next chunk of an open stream; result: bytes (``b""`` at the end).

    On a WebSocket: the next text message (``str``), or ``SocketClosed`` once it closed.
    """

    stream: Any


@dataclass(frozen=True)
class Close:
    """Close an open stream; result: None."""

    stream: Any


@dataclass(frozen=True)
class Sleep:
    """Pause; result: None. The only way the SDK ever waits."""

    seconds: float


@dataclass(frozen=True)
class Emit:
    """Hand a value to the caller (an update, a job, download progress); result: None."""

    value: Any


Effect: TypeAlias = Send | Open | Read | Close | Sleep | Emit | Connect | Transmit
Flow: TypeAlias = Generator[Effect, Any, T]
"""A flow that returns ``T``."""


def send_once(request: Request) -> Flow[Reply]:
    """Send ``request`` once, no retries (``flows.requests.request`` retries).

    Args:
        request: the request.

    Raises:
        TransportFailure: no answer arrived.
    """
    return cast(Reply, (yield Send(request)))


def open_once(request: Request) -> Flow[Reply]:
    """Send ``request`` once and keep a 2xx body open as ``Reply.stream``.

    Args:
        request: the request.

    Raises:
        TransportFailure: no answer arrived.
    """
    return cast(Reply, (yield Open(request)))


def read(stream: Any) -> Flow[bytes]:
    """The next chunk of an open stream (``b""`` at its end).

    Args:
        stream: ``Reply.stream`` of an ``open_once``.

    Raises:
        TransportFailure: the stream broke or timed out.
    """
    return cast(bytes, (yield Read(stream)))


def close(stream: Any) -> Flow[None]:
    """Close an open stream.

    Args:
        stream: ``Reply.stream`` of an ``open_once``.
    """
    yield Close(stream)


def connect(request: Request) -> Flow[Reply]:
    """Open a WebSocket with ``request`` (a ``GET`` of an ``http(s)`` URL), once.

    Args:
        request: the upgrade request (``auth`` as for any request; ``read_timeout``
            bounds each wait for a message, and the deadline cuts it shorter).

    Returns:
        The ``Reply``: ``.stream`` is the socket on ``101``, else None (a refusal).

    Raises:
        TransportFailure: no answer arrived.
    """
    return cast(Reply, (yield Connect(request)))


def transmit(stream: Any, text: str) -> Flow[None]:
    """Send a text message on an open WebSocket.

    Args:
        stream: ``Reply.stream`` of a ``connect``.
        text: the message.

    Raises:
        TransportFailure: the socket is closed or broke.
    """
    yield Transmit(stream, text)


def receive(stream: Any) -> Flow[str | SocketClosed]:
    """The next text message of an open WebSocket, or how it closed.

    Args:
        stream: ``Reply.stream`` of a ``connect``.

    Raises:
        TransportFailure: ``timeout`` when no message came within the socket's read
            timeout (the socket stays open).
    """
    return cast("str | SocketClosed", (yield Read(stream)))


def sleep(seconds: float) -> Flow[None]:
    """Pause for ``seconds`` (never negative).

    Args:
        seconds: how long.
    """
    yield Sleep(max(0.0, seconds))


def emit(value: object) -> Flow[None]:
    """Hand ``value`` to the caller (a callback, or an iterator's next item).

    Args:
        value: what to hand over.
    """
    yield Emit(value)


def counted(flow: Flow[T], tally: list[int]) -> Flow[T]:
    """Run ``flow`` unchanged, adding each request it sends (``Send``/``Open``) to ``tally[0]``.

    Args:
        flow: any flow.
        tally: a one-item list the count is added to.
    """
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return cast(T, stop.value)
        if isinstance(effect, Send | Open | Connect):
            tally[0] += 1
        try:
            value, error = (yield effect), None
        except GeneratorExit:
            flow.close()
            raise
        except BaseException as exc:
            value, error = None, exc
