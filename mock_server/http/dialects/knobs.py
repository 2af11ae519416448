"""Knobs: query parameters of a dialect's submit that shape how that one operation is served.

A client's end-to-end tests need the awkward answers real services give: a
monitor that moves, a ``Retry-After`` that is a date or garbage, a body cut in
half, a poll-state cookie, a transient ``503``, a monitor on another origin. The
submit request asks for them in its query (``?moving=1&fail-polls=2``); the
server remembers them per operation (``KnobBook``, in memory, per API process,
like the request stats) and every answer about that operation follows them.
docs/protocol.md ("Other dialects") lists them. They are test hooks, not API:
the OpenAPI document leaves them out (a truncated body cannot match a schema).

An unknown value, or a knob its dialect has no use for, is ``400``.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from typing import Any, Literal

from fastapi import Request

from ..problems import ProblemError

__all__ = ["COOKIE", "DIALECTS", "KnobBook", "Knobs", "OperationState", "parse_knobs"]

Dialect = Literal["azure", "arm", "google", "location"]
DIALECTS: tuple[Dialect, ...] = ("azure", "arm", "google", "location")
COOKIE = "jobctl-poll"
"""The poll-state cookie of the ``cookie`` knob."""
_ALL = frozenset(DIALECTS)
_FLAG = ("0", "1")


@dataclass(frozen=True)
class Knobs:
    """How one operation is served (the defaults: as a well-behaved service would).

    Args:
        links: monitor and result URLs ``relative``, ``absolute``, or ``foreign``: absolute
            and signed on the second origin (``--result-base-url``).
        moving: each poll of a running operation answers a new monitor URL, and the
            one it replaces answers 404 (location).
        retry_after: ``seconds``, an HTTP ``date``, ``garbage`` or ``none``.
        truncate: the first monitor answer is cut in half (JSON that does not parse).
        no_status: the monitor's body has no ``status`` (Azure).
        fail_polls: the first N monitor requests answer 503 (with ``Retry-After: 1``).
        cookie: the submit sets a poll-state cookie; ``required``: a monitor request
            without it answers 400.
        bare: the submit answers ``202`` with no header and no body (nothing to follow).
        sync: an Azure resource's PUT/PATCH answers when its job ended (up to
            ``--max-wait``): a ``200`` whose body says Succeeded, Failed or Canceled.
    """

    links: Literal["relative", "absolute", "foreign"] = "relative"
    moving: bool = False
    retry_after: Literal["seconds", "date", "garbage", "none"] = "seconds"
    truncate: bool = False
    no_status: bool = False
    fail_polls: int = 0
    cookie: Literal["", "set", "required"] = ""
    bare: bool = False
    sync: bool = False


_KNOBS: dict[str, tuple[str, tuple[str, ...], frozenset[str]]] = {
    "links": ("links", ("relative", "absolute", "foreign"), _ALL),
    "moving": ("moving", _FLAG, frozenset({"location"})),
    "retry-after": ("retry_after", ("seconds", "date", "garbage", "none"), _ALL),
    "truncate": ("truncate", _FLAG, frozenset({"azure", "arm", "google"})),
    "no-status": ("no_status", _FLAG, frozenset({"azure", "arm"})),
    "fail-polls": ("fail_polls", ("0", "1", "2", "3", "4", "5"), _ALL),
    "cookie": ("cookie", ("set", "required"), _ALL),
    "bare": ("bare", _FLAG, _ALL),
    "sync": ("sync", _FLAG, frozenset({"arm"})),
}
"""query name -> (field, accepted values, dialects that use it)."""


def parse_knobs(query: Mapping[str, str], dialect: Dialect, *, foreign: bool) -> Knobs:
    """The knobs a submit's query asks for (other parameters are left alone).

    Args:
        query: the request's query parameters.
        dialect: the dialect of the route.
        foreign: whether the server has a second origin (``links=foreign`` needs one).

    Raises:
        ProblemError: 400 naming the knob and what it accepts.
    """
    knobs = Knobs()
    for name, (attr, accepted, dialects) in _KNOBS.items():
        value = query.get(name)
        if value is None:
            continue
        loc = {"loc": ["query", name], "msg": f"one of {', '.join(accepted)}"}
        if dialect not in dialects:
            users = ", ".join(sorted(dialects))
            raise ProblemError(
                400,
                f"the knob {name!r} is for the {users} dialect(s), not {dialect}",
                details=[{"loc": ["query", name], "msg": "not used by this dialect"}],
            )
        if value not in accepted:
            raise ProblemError(
                400, f"the knob {name!r} takes one of: {', '.join(accepted)}", details=[loc]
            )
        typed: Any = value
        if accepted is _FLAG:
            typed = value == "1"
        elif attr == "fail_polls":
            typed = int(value)
        knobs = replace(knobs, **{attr: typed})
    if knobs.links == "foreign" and not foreign:
        raise ProblemError(
            400,
            "links=foreign needs a second origin: start the server with --result-base-url",
            details=[{"loc": ["query", "links"], "msg": "no second origin"}],
        )
    if knobs.links == "foreign" and dialect == "google":
        raise ProblemError(400, "a Google operation's name is relative: links=foreign is not")
    return knobs


@dataclass
class OperationState:
    """What the server remembers of one operation: its knobs and what it has answered.

    Args:
        knobs: how it is served.
        cookie: the poll-state cookie's value (``cookie`` knob), or None.
        polls: monitor requests seen so far.
        truncated: whether the one truncated answer was given.
        hop: the newest monitor URL's number (``moving``).
    """

    knobs: Knobs = field(default_factory=Knobs)
    cookie: str | None = None
    polls: int = 0
    truncated: bool = False
    hop: int = 0

    def gate(self, request: Request) -> None:
        """Count one monitor request; 400 without the required cookie; 503 for the first N.

        Args:
            request: the monitor request.
        """
        self.polls += 1
        knobs = self.knobs
        if knobs.cookie == "required" and request.cookies.get(COOKIE) != self.cookie:
            raise ProblemError(
                400, f"this operation's poll state is in the {COOKIE} cookie; send it back"
            )
        if self.polls <= knobs.fail_polls:
            raise ProblemError(
                503,
                f"poll {self.polls} of the first {knobs.fail_polls} fails (fail-polls knob)",
                headers={"Retry-After": "1"},
            )

    def retry_after(self, seconds: int) -> dict[str, str]:
        """The ``Retry-After`` header for a hint of ``seconds``, as the knob asks.

        Args:
            seconds: the hint.
        """
        style = self.knobs.retry_after
        if style == "none":
            return {}
        if style == "date":
            return {"Retry-After": formatdate(time.time() + seconds, usegmt=True)}
        if style == "garbage":
            return {"Retry-After": "soon, probably"}
        return {"Retry-After": str(seconds)}

    def cut(self, body: bytes) -> bytes:
        """``body``, or its first half on the first answer asked to be truncated.

        Args:
            body: a monitor answer's JSON bytes.
        """
        if not self.knobs.truncate or self.truncated:
            return body
        self.truncated = True
        return body[: max(1, len(body) // 2)]


class KnobBook:
    """Operations and their knobs, by operation key (in memory, the newest ``limit`` kept).

    Args:
        limit: how many operations to remember.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._ops: OrderedDict[str, OperationState] = OrderedDict()

    def open(self, key: str, knobs: Knobs) -> OperationState:
        """Remember a new operation (a poll-state cookie value is drawn when asked for).

        Args:
            key: the operation (a job id, or ``delete:{jobId}``).
            knobs: how it is served.
        """
        state = OperationState(knobs, secrets.token_urlsafe(16) if knobs.cookie else None)
        self._ops[key] = state
        self._ops.move_to_end(key)
        while len(self._ops) > self.limit:
            self._ops.popitem(last=False)
        return state

    def get(self, key: str) -> OperationState:
        """The operation's state; a default one (no knobs, not kept) for an unknown key.

        Args:
            key: the operation.
        """
        return self._ops.get(key) or OperationState()
