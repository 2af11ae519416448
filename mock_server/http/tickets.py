"""Tickets for browsers: short-lived, signed stand-ins for the token on one event stream.

A browser's ``EventSource`` cannot send ``Authorization`` (whatwg/html#2177), and a
long-lived token in a URL leaks into proxy, browser and server logs (RFC 6750 §2.3).
So an authenticated client asks for a *ticket* (``POST /api/jobs/{id}/events-ticket``,
``POST /api/events-ticket``) and hands the browser the events URL with ``?ticket=``.

A ticket is ``{expires}.{user}.{mac}``: the unix second it stops opening streams, the
user (base64url) and ``base64url(HMAC-SHA256(key, "jobctl-ticket-v1", expires, user,
target))``, where *target* is the stream's path and its query without ``ticket``
(pairs sorted, so ``job=a&job=b`` and ``job=b&job=a`` are one target). Nothing but the
signature binds the target: it is recomputed from the request, so a ticket for one
stream used on another path or with another query fails like a forged one. The key
is a secret of the store (every API process of a deployment shares it).

``AuthMiddleware`` checks a ticket before routing, only on ``GET`` of
``/api/jobs/{id}/events`` or ``/api/events`` with ``Accept: text/event-stream``, or on
the ``/api/ws`` upgrade; anywhere else, or wrong, it is ``401``. The ticket is then
taken out of the query the route sees, so no route, log line or error can show it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote_plus, urlencode

__all__ = [
    "TICKET_PARAM",
    "TICKET_SECONDS",
    "TicketError",
    "Tickets",
    "split_ticket",
    "stream_path",
]

TICKET_SECONDS = 60
"""How long a ticket opens its stream (an open stream goes on as long as it lasts)."""
TICKET_PARAM = "ticket"
"""The query parameter that carries a ticket."""
_STREAMS = re.compile(r"/api/jobs/[^/]+/events|/api/events|/api/ws")
"""The only paths a ticket may open."""
_LABEL = b"jobctl-ticket-v1"
_USER_MAX = 200
_MAC_LEN = 43  # base64url of 32 bytes, unpadded
_EXPIRES = re.compile(r"[0-9]{1,12}")


class TicketError(Exception):
    """A ticket that opens nothing here (its message is safe to show: it never quotes it)."""


def stream_path(path: str) -> bool:
    """Whether a ticket may open this path at all.

    Args:
        path: the request's path (decoded, as in the ASGI scope).
    """
    return _STREAMS.fullmatch(path) is not None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key_of(segment: bytes) -> str:
    return unquote_plus(segment.partition(b"=")[0].decode("latin-1"))


def split_ticket(query: bytes) -> tuple[list[str], bytes, list[tuple[str, str]]]:
    """The ``ticket`` values of a raw query, the query without them, and its other pairs.

    The query without the tickets keeps every other byte as sent, so the route reads
    its parameters exactly as it would have.

    Args:
        query: the raw query string (the ASGI ``query_string``).
    """
    tickets: list[str] = []
    kept: list[bytes] = []
    pairs: list[tuple[str, str]] = []
    for segment in query.split(b"&"):
        if not segment:
            continue
        name = _key_of(segment)
        value = unquote_plus(segment.partition(b"=")[2].decode("latin-1"))
        if name == TICKET_PARAM:
            tickets.append(value)
        else:
            kept.append(segment)
            pairs.append((name, value))
    return tickets, b"&".join(kept), pairs


def _target(path: str, pairs: Iterable[tuple[str, str]]) -> bytes:
    query = urlencode(sorted((k, v) for k, v in pairs if k != TICKET_PARAM))
    return f"{path}?{query}".encode()


@dataclass
class Tickets:
    """Makes and checks tickets with one key (set once the store is open).

    Args:
        key: the signing key (``store.secret("events-ticket")``); empty until opened.
        clock: the wall clock (seconds since the epoch).
    """

    key: bytes = b""
    clock: Callable[[], float] = field(default=time.time)

    def open(self, key: bytes, clock: Callable[[], float] | None = None) -> None:
        """Start signing with ``key`` (from the store, shared by every API process).

        Args:
            key: the secret.
            clock: the engine's clock, so tickets and jobs agree on the time.
        """
        self.key = key
        if clock is not None:
            self.clock = clock

    def _mac(self, expires: int, user: str, target: bytes) -> str:
        if not self.key:
            raise TicketError("tickets are not available yet")
        msg = b"\0".join((_LABEL, str(expires).encode(), user.encode(), target))
        return _b64(hmac.new(self.key, msg, hashlib.sha256).digest())

    def issue(self, user: str, path: str, pairs: Iterable[tuple[str, str]]) -> tuple[str, int]:
        """A ticket for ``user`` to open the stream at ``path`` with that query.

        Args:
            user: the authenticated user.
            path: the stream's path.
            pairs: the stream's query parameters (any ``ticket`` is ignored).

        Returns:
            The ticket and the unix second it stops opening the stream.
        """
        expires = int(self.clock()) + TICKET_SECONDS
        mac = self._mac(expires, user, _target(path, pairs))
        return f"{expires}.{_b64(user.encode())}.{mac}", expires

    def check(self, ticket: str, path: str, pairs: Iterable[tuple[str, str]]) -> str:
        """The user a ticket stands for, on this path with this query.

        Args:
            ticket: the ``ticket`` parameter as sent.
            path: the request's path.
            pairs: the request's query parameters (``ticket`` excluded or not).

        Raises:
            TicketError: forged, truncated, for another stream or user, or expired.
        """
        parts = ticket.split(".")
        if len(parts) != 3 or len(parts[2]) != _MAC_LEN or not _EXPIRES.fullmatch(parts[0]):
            raise TicketError("the ticket is not valid")
        try:
            user = _unb64(parts[1]).decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise TicketError("the ticket is not valid") from None
        expires = int(parts[0])
        if not user or len(user) > _USER_MAX:
            raise TicketError("the ticket is not valid")
        expected = self._mac(expires, user, _target(path, pairs))
        if not hmac.compare_digest(expected.encode(), parts[2].encode()):
            raise TicketError("the ticket is not valid for this stream")
        if self.clock() >= expires:
            raise TicketError("the ticket has expired: ask for a new one")
        return user
