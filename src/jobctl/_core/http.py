"""The HTTP vocabulary shared by both clients: request/reply records and error mapping.

Everything that turns a wire answer into a Python value or an exception lives
here, once: ``error_from_reply`` (problem+json, HTML proxy pages, empty bodies),
``parse_json``/``parse_job`` (``ProtocolError`` on a malformed success body).
Also URL helpers (origin checks so the API token never leaves the API's origin)
and header redaction for logs. httpx's own exceptions are mapped to ours in the
I/O layer (``jobctl._io.base.map_transport_error``); only httpx's data types
(``Headers``, ``codes``) are used here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
from pydantic import ValidationError

from ..errors import (
    APIError,
    AuthError,
    ConflictError,
    NotFoundError,
    ProtocolError,
    RequestRejectedError,
    ServiceUnavailableError,
)
from ..models import Job, JobPage
from .deadline import NO_DEADLINE, Deadline
from .retry import FailureKind
from .urls import safe_url

__all__ = [
    "MAX_DEPTH",
    "MAX_ERROR_BODY",
    "MAX_JSON_BODY",
    "Reply",
    "Request",
    "SocketClosed",
    "TransportFailure",
    "error_from_reply",
    "filename_from_disposition",
    "log",
    "parse_job",
    "parse_json",
    "parse_page",
    "redact_headers",
    "too_deep",
]

log = logging.getLogger("jobctl")

MAX_ERROR_BODY = 64 * 1024
"""At most this much of an error body is read."""
MAX_JSON_BODY = 16 * 1024 * 1024
"""A success JSON body larger than this is a protocol error."""
MAX_DEPTH = 64
"""A success JSON body nesting deeper than this is a protocol error (no recursion blow-ups)."""

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


@dataclass(frozen=True)
class Request:
    """One HTTP request a flow wants sent.

    Args:
        method: the HTTP method.
        url: the absolute URL.
        headers: extra headers (the client adds ``Authorization`` when ``auth``).
        params: query parameters.
        json: a JSON body, or None.
        content: a raw body (instead of ``json``), or None.
        auth: send the credentials (decided by ``Context.auth``: the base URL's origin only).
        idempotent_key: the request carries an ``Idempotency-Key`` (POST retries allowed).
        repeatable: sending it again is harmless whatever its method, a ``500`` included
            (a keyed ``call`` of any async API; see ``retry.classify``).
        read_timeout: a per-request read timeout in seconds (long polls, streams).
        deadline: the operation's deadline: no retry waits past it, and the
            request's timeouts shrink to it.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Any = None
    json: Any = None
    content: bytes | None = None
    auth: bool = True
    idempotent_key: bool = False
    repeatable: bool = False
    read_timeout: float | None = None
    deadline: Deadline = NO_DEADLINE


@dataclass
class Reply:
    """An answer: status, headers, and the (bounded) body or an open stream.

    Args:
        status: the HTTP status.
        headers: the response headers.
        body: the body read so far (all of it for plain requests; a bounded
            excerpt for errors; empty for an open stream).
        url: the URL that answered.
        method: the request method.
        stream: the client's open-stream handle when the request was a stream
            and the status was 2xx, else None.
        truncated: True when the body was cut at the read limit.
    """

    status: int
    headers: httpx.Headers
    body: bytes = b""
    url: str = ""
    method: str = "GET"
    stream: Any = None
    truncated: bool = False


@dataclass(frozen=True)
class SocketClosed:
    """How a WebSocket ended: what a ``Read`` of it returns once it is closed.

    Args:
        code: the close code (``1000`` normal, ``1006`` cut without a close frame,
            ``1013`` try again later: the server found the client too slow to read).
        reason: the close frame's reason, if any.
    """

    code: int
    reason: str = ""


class TransportFailure(ServiceUnavailableError):
    """No answer arrived (connection refused/reset, timeout).

    Args:
        message: what happened, in one sentence.
        kind: the failure kind (see ``jobctl._core.retry.FailureKind``).
    """

    def __init__(
        self, message: str, *, kind: FailureKind, method: str | None = None, url: str | None = None
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.kind: FailureKind = kind


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of the headers safe to log: credentials replaced by ``[redacted]``.

    Args:
        headers: request or response headers.
    """
    return {k: ("[redacted]" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body[: limit * 4].decode("utf-8", "replace")
    text = re.sub(r"<[^>]{0,400}>", " ", text)  # an HTML page: keep its words
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def error_from_reply(reply: Reply) -> APIError:
    """The typed error for a 4xx/5xx answer (problem+json or anything else).

    Args:
        reply: the answer, with a bounded body.
    """
    status = reply.status
    problem: dict[str, Any] = {}
    try:
        decoded = json.loads(reply.body) if reply.body and not reply.truncated else None
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        decoded = None
    if isinstance(decoded, dict):
        problem = decoded
    sentence = ""
    for key in ("detail", "error", "title"):
        value = problem.get(key)
        if isinstance(value, str) and value.strip():
            sentence = value.strip()[:500]
            break
    if not sentence:
        if reply.body:
            ctype = reply.headers.get("content-type", "unknown type").split(";")[0]
            sentence = f"non-JSON error body ({ctype}): {_excerpt(reply.body)!r}"
        else:
            sentence = "empty error body"
    where = f"{reply.method} {safe_url(reply.url)}"
    message = f"{status} {_reason(status)}: {sentence} ({where})"
    cls: type[APIError]
    if status in (401, 403):
        cls = AuthError
    elif status in (404, 410):
        cls = NotFoundError
    elif status in (409, 422):
        cls = ConflictError
        if status == 422:
            message = (
                f"422: the Idempotency-Key was already used for a different request "
                f"({sentence}); use a new key ({where})"
            )
    elif status == 429 or status >= 500:
        cls = ServiceUnavailableError
    elif 400 <= status < 500:
        cls = RequestRejectedError
    else:
        cls = ProtocolError
        message = f"unexpected status {status} ({where})"
    return cls(message, status_code=status, problem=problem, method=reply.method, url=reply.url)


def _reason(status: int) -> str:
    return httpx.codes.get_reason_phrase(status) or "Error"


def parse_json(reply: Reply) -> Any:
    """Decode a success body as JSON, or raise ``ProtocolError``.

    Args:
        reply: a 2xx answer.
    """
    where = f"{reply.method} {safe_url(reply.url)}"
    if reply.truncated:
        raise ProtocolError(f"{where}: the answer is larger than {MAX_JSON_BODY} bytes")
    try:
        data = json.loads(reply.body)
    except RecursionError:
        data, deep = None, True
    except ValueError:
        raise ProtocolError(
            f"{where}: expected JSON, got {_excerpt(reply.body, 80)!r}",
            status_code=reply.status,
            method=reply.method,
            url=reply.url,
        ) from None
    else:
        deep = too_deep(data)
    if deep:
        raise ProtocolError(f"{where}: the JSON answer nests more than {MAX_DEPTH} levels deep")
    return data


def too_deep(data: Any) -> bool:
    """True when decoded JSON nests deeper than ``MAX_DEPTH`` (checked without recursion).

    Args:
        data: a decoded JSON value.
    """
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        item, depth = stack.pop()
        children: Any = item.values() if isinstance(item, dict) else item
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def parse_job(reply: Reply, **extra: Any) -> Job:
    """Decode a job document (submit, status, cancel, retry) or raise ``ProtocolError``.

    Args:
        reply: a 2xx answer.
        **extra: client-side fields to set (``replayed``, ``idempotency_key``, ``type``...),
            used only where the body lacks them.
    """
    data = parse_json(reply)
    if not isinstance(data, dict):
        raise ProtocolError(f"{reply.method} {safe_url(reply.url)}: expected a JSON object")
    merged = {**extra, **{k: v for k, v in data.items() if v is not None}}
    merged["replayed"] = extra.get("replayed", False)
    try:
        return Job.model_validate(merged)
    except ValidationError as exc:
        raise ProtocolError(
            f"{reply.method} {safe_url(reply.url)}: not a valid job document "
            f"({_first_problem(exc)})",
            status_code=reply.status,
            method=reply.method,
            url=reply.url,
        ) from None


def parse_page(reply: Reply) -> JobPage:
    """Decode a ``GET /api/jobs`` page or raise ``ProtocolError``.

    Args:
        reply: a 2xx answer.
    """
    data = parse_json(reply)
    try:
        return JobPage.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(
            f"{reply.method} {safe_url(reply.url)}: not a valid job list ({_first_problem(exc)})"
        ) from None


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err.get("loc", ())) or "body"
    return f"{loc}: {err.get('msg', 'invalid')}"


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*([^;]+)", re.IGNORECASE)
_FILENAME = re.compile(r"filename\s*=\s*(\"(?:[^\"\\]|\\.)*\"|[^;]+)", re.IGNORECASE)


def filename_from_disposition(value: str | None) -> str | None:
    """A safe file name from ``Content-Disposition`` (no path parts, no dot files), or None.

    Args:
        value: the header value.
    """
    if not value:
        return None
    name: str | None = None
    star = _FILENAME_STAR.search(value)
    if star:
        raw = star.group(1).strip().strip('"')
        if "''" in raw:
            raw = raw.split("''", 1)[1]
        name = unquote(raw, errors="replace")
    else:
        plain = _FILENAME.search(value)
        if plain:
            name = plain.group(1).strip()
            if name.startswith('"') and name.endswith('"'):
                name = re.sub(r"\\(.)", r"\1", name[1:-1])
    if not name:
        return None
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    name = name.strip().lstrip(".").strip()
    return name[:200] or None
