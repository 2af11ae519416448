"""ASGI middleware: access log + request stats, body-size limit, bearer authentication.

Pure ASGI (no ``BaseHTTPMiddleware``) so streaming responses pass through
untouched and the connection's transport can be found for the ``reset`` fault.
``API_PREFIXES`` are the paths that need a token and get the rate limit and
faults: ``/api`` and the dialects' (``/azure``, ``/google``, ``/location``, and
``/v1``, where AIP-151 puts a Google API's operations). Requests that reach the
second origin (``--result-base-url``) are logged with whether they carried
credentials, so tests can check that a client never sends them there.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import ProblemError, problem_response
from .tickets import TicketError, Tickets, split_ticket, stream_path

__all__ = [
    "API_PREFIXES",
    "AccessMiddleware",
    "AuthMiddleware",
    "BodyLimitMiddleware",
    "RedactCredentials",
    "RequestStats",
    "bearer_token",
]

log = logging.getLogger("mock_server.access")

API_PREFIXES = ("/api", "/azure", "/google", "/location", "/v1")
"""Paths that need a bearer token (or a signature), and get the rate limit and faults."""
SECOND_ORIGIN_KEPT = 500
"""How many requests to the second origin the stats keep (the newest)."""


_CREDENTIAL = re.compile(r"((?:^|[?&;\s])(?:ticket|sig)=)[^&\s\"']*", re.IGNORECASE)


class RedactCredentials(logging.Filter):
    """Blanks ``ticket=`` and ``sig=`` values in every log line, whoever logs it.

    The access log never writes a query; this is for the lines others write with one
    (uvicorn logs a WebSocket upgrade's path with its query, an error may quote a URL).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message when it carries a credential; keep every record."""
        message = record.getMessage()
        redacted = _CREDENTIAL.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RequestStats:
    """Request counts per route template and per job id (``GET /api/_stats``)."""

    def __init__(self) -> None:
        self.total = 0
        self.routes: Counter[str] = Counter()
        self.jobs: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.second_total = 0
        self.second_origin: deque[dict[str, Any]] = deque(maxlen=SECOND_ORIGIN_KEPT)

    def count(self, route: str, job_id: str | None) -> None:
        """Count one request.

        Args:
            route: ``METHOD /template``.
            job_id: the job in the path, if any.
        """
        self.total += 1
        self.routes[route] += 1
        if job_id is not None:
            self.jobs[job_id][route] += 1

    def second(self, method: str, path: str, status: int | None, headers: set[bytes]) -> None:
        """Log one request that reached the second origin (never a header's value).

        Args:
            method: the method.
            path: the path, without the query (which may carry a signature).
            status: the answer's status (None: the connection was reset).
            headers: the names of the request's headers, lower case.
        """
        self.second_total += 1
        self.second_origin.append(
            {
                "method": method,
                "path": path,
                "status": status,
                "authorization": b"authorization" in headers,
                "cookie": b"cookie" in headers,
            }
        )

    def snapshot(self) -> dict[str, Any]:
        """The stats as JSON data."""
        return {
            "total": self.total,
            "routes": dict(self.routes),
            "jobs": {
                j: {"total": sum(c.values()), "routes": dict(c)} for j, c in self.jobs.items()
            },
            "secondOrigin": {"total": self.second_total, "requests": list(self.second_origin)},
        }

    def reset(self) -> None:
        """Start counting from zero."""
        self.total = 0
        self.routes.clear()
        self.jobs.clear()
        self.second_total = 0
        self.second_origin.clear()


_STARTS = {
    "http.response.start": 0,  # 0: the message's own status
    "websocket.http.response.start": 0,  # a refused upgrade (401, 429, 503)
    "websocket.accept": 101,
    "websocket.close": 403,  # closed before it was accepted
}


def _method(scope: Scope) -> str:
    """The request's method; a WebSocket upgrade is a GET."""
    return str(scope.get("method", "GET"))


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


class AccessMiddleware:
    """Logs one line per request (method, path, status, ms; never headers) and counts it.

    An ``X-Correlation-Id`` request header is echoed on the response. A request whose
    ``Host`` is the second origin's is also logged in the stats (``secondOrigin``).

    Args:
        app: the inner app.
        routes: the app's routes, to find the route template of a path.
        stats: where counts go.
        enabled: whether to log.
        second_origin: the ``--result-base-url`` origin, if any.
    """

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        stats: RequestStats,
        enabled: bool,
        second_origin: str | None = None,
    ) -> None:
        self.app = app
        self.routes = list(routes)
        self.stats = stats
        self.enabled = enabled
        netloc = urlsplit(second_origin).netloc if second_origin else ""
        self.second_host = netloc.lower().encode("latin-1") or None

    def _route(self, scope: Scope) -> tuple[str, str | None]:
        partial: tuple[str, str | None] | None = None
        for route in self.routes:
            match, child = route.matches(scope)
            if match == Match.NONE:
                continue
            template = getattr(route, "path_format", None) or getattr(route, "path", scope["path"])
            job_id = child.get("path_params", {}).get("job_id")
            if match == Match.FULL:
                return f"{_method(scope)} {template}", job_id
            partial = partial or (f"{_method(scope)} {template}", job_id)
        return partial or (f"{_method(scope)} (unmatched)", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cycle = getattr(receive, "__self__", None)
        _state(scope)["transport"] = getattr(cycle, "transport", None)
        route, job_id = self._route(scope)
        self.stats.count(route, job_id)
        started = time.perf_counter()
        status: list[int] = []

        correlation = [v for k, v in scope["headers"] if k == b"x-correlation-id"][:1]

        async def send_wrapper(message: Message) -> None:
            if message["type"] in _STARTS and not status:
                status.append(_STARTS[message["type"]] or message["status"])
                has_headers = message["type"] != "websocket.close"
                if has_headers and correlation and len(correlation[0]) <= 200:  # for tracing
                    message = {
                        **message,
                        "headers": [
                            *message.get("headers", []),
                            (b"x-correlation-id", correlation[0]),
                        ],
                    }
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            host = [v for k, v in scope["headers"] if k == b"host"][:1]
            if self.second_host is not None and host and host[0].lower() == self.second_host:
                names = {k.lower() for k, _ in scope["headers"]}
                self.stats.second(scope["method"], scope["path"], next(iter(status), None), names)
            if self.enabled:
                ms = (time.perf_counter() - started) * 1000
                shown = str(status[0]) if status else "reset"
                log.info("%s %s %s %.1fms", _method(scope), scope["path"], shown, ms)


class BodyLimitMiddleware:
    """Answers 413 for bodies over ``limit`` bytes (by Content-Length and while reading).

    Args:
        app: the inner app.
        limit: the largest accepted body.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is larger than {self.limit} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    await problem_response(400, "Content-Length is not a number")(
                        scope, receive, send
                    )
                    return
                if int(value) > self.limit:
                    await problem_response(413, too_large, headers={"Connection": "close"})(
                        scope, receive, send
                    )
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ProblemError(413, too_large, headers={"Connection": "close"})
            return message

        await self.app(scope, limited, send)


_SIGNABLE = re.compile(
    r"/api/jobs/[^/]+/result"
    r"|/location/jobs/[^/]+/(?:status|result)"
    r"|/azure/(?:operations|asyncoperations|operationresults)/[^/:]+"
    r"|/azure/jobs/[^/:]+/result"
)
"""The routes a signed URL may open without a token: results, and the dialects' monitors
and results (their "another origin" knob hands these out; routes check the signature)."""


def _signed_request(scope: Scope) -> bool:
    """Whether a request without a token may reach the route to have its signature checked.

    Only ``GET``/``HEAD`` of a ``_SIGNABLE`` path with a ``sig`` query parameter: every
    other request without a token is 401 here, whatever its path or query.
    """
    if scope["type"] != "http" or _method(scope) not in ("GET", "HEAD"):
        return False
    if not _SIGNABLE.fullmatch(scope["path"]):
        return False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return "sig" in query


def bearer_token(scope: Scope) -> str | None:
    """The token of the ``Authorization: Bearer`` header (HTTP requests and WebSocket upgrades).

    Args:
        scope: the request's scope.
    """
    token = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, rest = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                token = rest.strip()
    return token


class AuthMiddleware:
    """Maps ``Authorization: Bearer`` tokens to users for every path of ``API_PREFIXES``.

    A signed URL (``GET``/``HEAD /api/jobs/{id}/result?expires=..&sig=..``, or a
    dialect's signed monitor or result) passes without a token; the route checks the
    signature (401 when it is wrong). A ticket (``?ticket=``, ``tickets.py``) passes
    without a token only on the event stream it was made for: ``GET`` with
    ``Accept: text/event-stream``, or the ``/api/ws`` upgrade; it is taken out of the
    query before the route (or anything after this middleware) sees it.

    Args:
        app: the inner app.
        tokens: token -> user.
        admins: admin users.
        tickets: the ticket signer (None: tickets open nothing).
    """

    def __init__(
        self,
        app: ASGIApp,
        tokens: dict[str, str],
        admins: frozenset[str],
        tickets: Tickets | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.admins = admins
        self.users = frozenset(tokens.values())
        self.tickets = tickets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        state = _state(scope)
        tickets, rest, pairs = split_ticket(scope.get("query_string", b""))
        if tickets:  # never seen past here: not by a route, a log line or an error
            scope = {**scope, "query_string": rest}
        user = self.tokens.get(token) if token else None
        if user is None and token is None and tickets:
            try:
                user = self._ticket_user(scope, tickets, pairs)
            except TicketError as exc:
                await _unauthorized(str(exc), invalid=True)(scope, receive, send)
                return
            state["user"], state["admin"], state["ticket"] = user, user in self.admins, True
            state["client"] = "ticket:" + hashlib.sha256(user.encode()).hexdigest()[:16]
            await self.app(scope, receive, send)
            return
        if user is None:
            if token is None and _signed_request(scope):
                state["user"], state["admin"], state["client"] = None, False, "signed"
                await self.app(scope, receive, send)
                return
            detail = "a bearer token is required" if token is None else "the token is not valid"
            await _unauthorized(detail, invalid=token is not None)(scope, receive, send)
            return
        state["user"], state["admin"] = user, user in self.admins
        state["client"] = hashlib.sha256(token.encode()).hexdigest()[:16] if token else "-"
        await self.app(scope, receive, send)

    def _ticket_user(self, scope: Scope, tickets: list[str], pairs: list[tuple[str, str]]) -> str:
        """The user a ticket stands for on this request, or ``TicketError``."""
        path = scope["path"]
        if len(tickets) != 1:
            raise TicketError("send one ticket")
        websocket = scope["type"] == "websocket"
        if not stream_path(path) or websocket != (path == "/api/ws"):
            raise TicketError("a ticket opens only the event stream it was made for")
        if not websocket and (_method(scope) != "GET" or not _accepts_event_stream(scope)):
            raise TicketError("a ticket opens only a GET with Accept: text/event-stream")
        if self.tickets is None:
            raise TicketError("the ticket is not valid")
        user = self.tickets.check(tickets[0], path, pairs)
        if user not in self.users:
            raise TicketError("the ticket is not valid")
        return user


def _accepts_event_stream(scope: Scope) -> bool:
    """Whether the request's ``Accept`` names ``text/event-stream`` (as ``EventSource`` sends)."""
    for name, value in scope["headers"]:
        if name == b"accept":
            for item in value.decode("latin-1").split(","):
                if item.split(";")[0].strip().lower() == "text/event-stream":
                    return True
    return False


def _unauthorized(detail: str, *, invalid: bool) -> ASGIApp:
    """The ``401`` of a missing or wrong credential (``invalid``: one was sent)."""
    header = 'Bearer realm="jobctl"' + (', error="invalid_token"' if invalid else "")
    return problem_response(401, detail, headers={"WWW-Authenticate": header})
