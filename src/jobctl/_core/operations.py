"""An operation of any async API, its outcome, and its resume token (all pure).

``Operation`` is what one request started: its dialect, where to poll, and what
its initial request was. ``OperationResult`` is how following it ended: exactly
one ``outcome`` of ``succeeded``, ``failed``, ``cancelled``, ``timeout`` or
``error``. A **resume token** lets another process, machine or later CI job
continue: ``jobctl-op1.`` + base64url(JSON) + ``.`` + a checksum; it holds the
dialect, the URLs, the initial method, the final-state rule and when it started,
never a credential, a header or a cookie. A truncated or altered token, or one
of a version this jobctl does not know, is refused with one sentence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..errors import InvalidArgumentError, JobctlError
from ..models import Progress
from .dialects import Observation, Start

__all__ = ["TOKEN_PREFIX", "Operation", "OperationResult", "Outcome"]

Outcome = Literal["succeeded", "failed", "cancelled", "timeout", "error"]
TOKEN_PREFIX = "jobctl-op"  # noqa: S105 - a name, not a secret
_VERSION = 1
_FIELDS = ("dialect", "method", "url", "monitor", "location", "finalVia", "apiVersion", "started")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _checksum(payload: bytes) -> str:
    return _b64(hashlib.sha256(b"jobctl-op|" + payload).digest()[:9])


@dataclass(frozen=True)
class Operation:
    """What one request started, in any dialect (see docs/operations.md).

    Args:
        dialect: ``jobctl``, ``azure``, ``azure-resource``, ``google``, ``location``
            or ``done``.
        method: the initial request's method.
        url: the initial request's URL.
        monitor: the URL to poll (None when the request finished it).
        location: the initial response's ``Location`` (Azure's POST result).
        final_via: the Azure final-state rule in force.
        api_version: the initial request's ``api-version``.
        started: when it started (POSIX seconds).
        status: the last status seen, in the server's own words.
        progress: how far it is, when the server says.
        headers: headers sent with every request to the initial origin (never in
            the resume token).
        cookies: cookies the initial origin set for it (never in the resume token).
        first: what the answer that made it said (the initial response's own view).
        sent: requests the call that made it sent (counted in its result).
        hint: the ``Retry-After`` of the answer that made it (the first pause).
    """

    dialect: str
    method: str
    url: str
    monitor: str | None
    location: str | None = None
    final_via: str | None = None
    api_version: str | None = None
    started: float = 0.0
    status: str | None = None
    progress: Progress | None = field(default=None, compare=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)
    cookies: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)
    first: Observation | None = field(default=None, repr=False, compare=False)
    sent: int = field(default=0, repr=False, compare=False)
    hint: float | None = field(default=None, repr=False, compare=False)

    @property
    def start(self) -> Start:
        """How it is followed (the dialect's view)."""
        first = self.first or Observation("running", self.status)
        return Start(
            self.dialect,  # type: ignore[arg-type]
            self.monitor,
            self.location,
            self.final_via,
            self.api_version,
            first,
        )

    @property
    def resume_token(self) -> str:
        """One printable string another process turns back into this operation."""
        values = (
            self.dialect,
            self.method,
            self.url,
            self.monitor,
            self.location,
            self.final_via,
            self.api_version,
            round(self.started, 3),
        )
        doc = {"v": _VERSION, **dict(zip(_FIELDS, values, strict=True))}
        payload = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        return f"{TOKEN_PREFIX}{_VERSION}.{_b64(payload)}.{_checksum(payload)}"

    @classmethod
    def from_token(cls, token: str) -> Operation:
        """The operation a resume token stands for.

        Args:
            token: from ``Operation.resume_token`` (``jobctl call``, ``--json``).

        Raises:
            InvalidArgumentError: not a jobctl resume token, a truncated or altered
                one, or one of a newer version (one sentence; a ``ValueError`` too).
        """
        if not isinstance(token, str) or not token.strip().startswith(TOKEN_PREFIX):
            raise InvalidArgumentError("not a jobctl resume token (they start jobctl-op1.)")
        head, _, rest = token.strip().partition(".")
        version = head.removeprefix(TOKEN_PREFIX)
        if not version.isdigit():
            raise InvalidArgumentError("not a jobctl resume token (they start jobctl-op1.)")
        if int(version) > _VERSION:
            raise InvalidArgumentError(
                f"a resume token of version {version}: this jobctl knows version {_VERSION} "
                "(upgrade jobctl to resume it)"
            )
        body, _, check = rest.partition(".")
        try:
            payload = _unb64(body)
        except (binascii.Error, ValueError):
            payload = b""
        if not payload or not check or _checksum(payload) != check:
            raise InvalidArgumentError(
                "not a jobctl resume token: it is truncated or was altered (its checksum "
                "does not match); copy the whole token"
            )
        try:
            doc = json.loads(payload)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or doc.get("v") != _VERSION:
            raise InvalidArgumentError("not a jobctl resume token: its contents are unreadable")
        try:
            return cls(
                dialect=_text(doc["dialect"]),
                method=_text(doc["method"]),
                url=_text(doc["url"]),
                monitor=_opt(doc.get("monitor")),
                location=_opt(doc.get("location")),
                final_via=_opt(doc.get("finalVia")),
                api_version=_opt(doc.get("apiVersion")),
                started=float(doc.get("started") or 0.0),
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidArgumentError(
                "not a jobctl resume token: its contents are unreadable"
            ) from None

    def with_status(self, status: str | None) -> Operation:
        """A copy that remembers the last status seen.

        Args:
            status: the status in the server's words.
        """
        return replace(self, status=status)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not text")
    return value


def _opt(value: Any) -> str | None:
    return None if value is None else _text(value)


@dataclass(frozen=True)
class OperationResult:
    """How following an operation ended: exactly one outcome.

    Args:
        outcome: ``succeeded``, ``failed``, ``cancelled``, ``timeout`` (the deadline
            passed; it may still be running) or ``error`` (the server broke its
            dialect, refused, or could not be reached).
        status: the last status, in the server's own words.
        result: the final result: parsed JSON, else the bytes (None when there is none).
        error: the operation's error object (failed), or ``{"message": ...}`` (error).
        requests: how many HTTP requests following it took (the initial one included
            when the same call made it).
        dialect: the dialect it was followed in.
        resume_token: the token to resume it (a timeout may be resumed later).
        exception: the jobctl error behind an ``error`` (or ``timeout``) outcome.
    """

    outcome: Outcome
    status: str | None = None
    result: Any = None
    error: Any = None
    requests: int = 0
    dialect: str = ""
    resume_token: str | None = None
    exception: JobctlError | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document (``result`` as text when it is bytes)."""
        result = self.result
        if isinstance(result, bytes | bytearray):
            result = bytes(result).decode("utf-8", "replace")
        return {
            "outcome": self.outcome,
            "status": self.status,
            "result": result,
            "error": self.error,
            "dialect": self.dialect,
            "resumeToken": self.resume_token,
            "requests": self.requests,
        }
