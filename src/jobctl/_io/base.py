"""What ``JobsClient`` and ``AsyncJobsClient`` share besides the flows.

Settings resolution, the flow each public method runs, the one ``Deadline`` made
from a call's ``timeout=``, request building (headers, the token only for trusted
origins, timeouts cut to the deadline), request logging with credentials redacted,
and the mapping of httpx's exceptions to ours (``map_transport_error``, the one
place that does it). Retries are not here: they are flows (``jobctl._core``),
and the clients send each attempt once.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import IO, Any

import httpx

from .._core.context import Context, Runtime
from .._core.deadline import Deadline
from .._core.effects import Flow
from .._core.flows.download import DownloadProgress, Sink, download_flow
from .._core.flows.follow import Strategy, Update, follow_flow
from .._core.flows.jobs import (
    cancel_flow,
    events_ticket_flow,
    get_flow,
    iter_jobs_flow,
    list_flow,
    retry_flow,
    submit_flow,
)
from .._core.flows.many import many_flow, watch_flow
from .._core.flows.many_ws import ManyStrategy, ws_many_flow
from .._core.flows.operation import (
    call_flow,
    cancel_operation_flow,
    monitor_flow,
    operation_flow,
)
from .._core.http import (
    MAX_ERROR_BODY,
    MAX_JSON_BODY,
    Reply,
    Request,
    SocketClosed,
    TransportFailure,
    log,
    redact_headers,
)
from .._core.notices import ConnectionEvent, Outages
from .._core.operations import TOKEN_PREFIX, Operation, OperationResult
from .._core.polling import PollPolicy
from .._core.refs import JobRef, target_of
from .._core.retry import FailureKind
from .._core.urls import redact_url, safe_url, split_credentials
from .._version import __version__
from ..errors import APIError, InvalidArgumentError, ProtocolError, TLSVerificationError
from ..models import Job, JobEvent, JobPage
from .files import make_sink

__all__ = [
    "LIMITS",
    "WS_EXTRA",
    "ClientBase",
    "body_limit",
    "callbacks",
    "closed_of",
    "map_transport_error",
    "map_ws_error",
    "no_cookie_jar",
    "tls_verify",
]

USER_AGENT = f"jobctl/{__version__}"


LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=16)
"""Connection limits of the clients' shared pools, which only carry short requests
(event streams and long polls go over each call's own connection, ``transport``);
more wait their turn at the pool's gate. httpcore's pool costs O(connections²) per
request start and end: with 1,000 jobs submitted at once, 16 connections cost half
the client CPU of 64. As many kept alive as open: httpcore closes an idle connection
whenever more than ``max_keepalive_connections`` are open."""


WS_EXTRA = "strategy='ws' needs the ws extra: pip install 'jobctl[ws]'"
"""The error when ``websockets`` (the extra's client library) can't be imported."""
WS_CLOSE_TIMEOUT = 2.0
"""Seconds a WebSocket's closing handshake may take before the connection is dropped."""

_CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")
_TRANSPORT_HEADERS = frozenset({"accept", "accept-encoding", "connection", "user-agent"})


def no_cookie_jar() -> CookieJar:
    """A cookie jar that keeps nothing: the flows keep an operation's cookies themselves,
    scoped to it and to its origin (a shared jar would mix jobs and operations).

    A bare ``CookieJar``, not ``httpx.Cookies``: httpx copies an ``httpx.Cookies`` into a
    fresh jar with the default policy (which keeps everything), but uses a jar as given.
    """
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def tls_verify(verify: bool | str | ssl.SSLContext) -> bool | ssl.SSLContext:
    """httpx's ``verify`` from ours: a CA bundle path (file or directory) becomes a context.

    Args:
        verify: True, False, an ``ssl.SSLContext``, or the path of a CA bundle.
    """
    if isinstance(verify, str):
        if not os.path.exists(verify):
            raise InvalidArgumentError(f"CA bundle not found: {verify}")
        try:
            if os.path.isdir(verify):
                return ssl.create_default_context(capath=verify)
            return ssl.create_default_context(cafile=verify)
        except (ssl.SSLError, OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or "unreadable"
            raise InvalidArgumentError(
                f"CA bundle {verify}: not a readable PEM file of certificates ({reason})"
            ) from None
    return verify


def body_limit(status: int) -> int:
    """How much of a body to read: a success JSON body, or an error body.

    Args:
        status: the response status.
    """
    return MAX_JSON_BODY if 200 <= status < 300 else MAX_ERROR_BODY


def map_transport_error(exc: BaseException, method: str, url: str) -> APIError:
    """Map an httpx exception to a jobctl error (the one place that does so).

    Args:
        exc: the exception httpx raised.
        method: the request method.
        url: the request URL.
    """
    where = f"{method} {safe_url(url)}"
    kind: FailureKind
    tls = _certificate_failure(exc)
    if tls is not None:
        return TLSVerificationError(
            f"{where}: the server's TLS certificate did not verify ({tls})", method=method, url=url
        )
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        kind, what = "connect", "could not connect"
    elif isinstance(exc, httpx.TimeoutException):
        kind, what = "timeout", "timed out"
    elif isinstance(exc, httpx.RemoteProtocolError):
        kind, what = "protocol", "the connection was closed without a complete answer"
    elif isinstance(exc, httpx.NetworkError):
        kind, what = "read", "the connection broke"
    elif isinstance(exc, httpx.DecodingError):
        return ProtocolError(f"{where}: the answer could not be decoded", method=method, url=url)
    elif isinstance(exc, httpx.TooManyRedirects):
        return ProtocolError(f"{where}: too many redirects", method=method, url=url)
    else:
        kind, what = "other", f"request failed ({type(exc).__name__})"
    return TransportFailure(f"{where}: {what}", kind=kind, method=method, url=url)


def map_ws_error(exc: BaseException, url: str) -> APIError | Reply:
    """What a failed WebSocket upgrade means: the server's refusal (a ``Reply`` with its
    status, headers and body) or our error, as ``map_transport_error`` has them.

    Args:
        exc: what ``websockets``' ``connect`` raised.
        url: the ``http(s)`` URL of the upgrade.
    """
    from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

    where = f"GET {safe_url(url)}"
    if isinstance(exc, InvalidStatus):
        response = exc.response
        headers = httpx.Headers(list(response.headers.raw_items()))
        body = bytes(response.body or b"")[:MAX_ERROR_BODY]
        return Reply(response.status_code, headers, body=body, url=url, method="GET")
    tls = _certificate_failure(exc)
    if tls is not None:
        return TLSVerificationError(
            f"{where}: the server's TLS certificate did not verify ({tls})", method="GET", url=url
        )
    kind: FailureKind
    if isinstance(exc, InvalidURI):
        kind, what = "other", "not a WebSocket URL"
    elif isinstance(exc, InvalidHandshake):
        kind, what = "protocol", f"the WebSocket upgrade failed ({exc})"
    elif isinstance(exc, TimeoutError):
        kind, what = "timeout", "timed out"
    elif isinstance(exc, OSError):
        kind, what = "connect", "could not connect"
    else:
        kind, what = "other", f"request failed ({type(exc).__name__})"
    return TransportFailure(f"{where}: {what}", kind=kind, method="GET", url=url)


def closed_of(exc: BaseException) -> SocketClosed:
    """How a WebSocket closed, from ``websockets``' ``ConnectionClosed``.

    Args:
        exc: the exception (``1006`` when no close frame came either way).
    """
    frame = getattr(exc, "rcvd", None) or getattr(exc, "sent", None)
    if frame is None:
        return SocketClosed(1006, "the connection was cut")
    return SocketClosed(int(frame.code), str(frame.reason))


def _certificate_failure(exc: BaseException) -> str | None:
    """The verification error's reason when ``exc`` was caused by a bad certificate."""
    seen: BaseException | None = exc
    for _ in range(8):  # the cause chain: httpx -> httpcore -> ssl
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or "certificate verify failed")
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "certificate verify failed"
    return None


def callbacks(
    *,
    progress: Callable[[Job], Any] | None = None,
    download: Callable[[int, int | None], Any] | None = None,
    connection: Callable[[ConnectionEvent], Any] | None = None,
    operation: Callable[[Operation], Any] | None = None,
    event: Callable[[JobEvent], Any] | None = None,
) -> Callable[[object], Any] | None:
    """One handler for everything a flow emits, routed to the caller's callbacks by kind.

    Args:
        progress: ``wait(on_progress=...)``: the current ``Job``, on every change.
        download: ``download(on_progress=...)``: ``(bytes_done, total_or_None)``.
        connection: ``on_connection=...``: a ``ConnectionEvent``.
        operation: ``wait_operation(on_progress=...)``: the ``Operation``, as its status
            or progress changes.
        event: ``wait_many(on_event=...)``: every event of every job (``event.job_id``,
            ``event.job`` its snapshot).
    """
    if (
        progress is None
        and download is None
        and connection is None
        and operation is None
        and event is None
    ):
        return None
    outages = Outages()

    def route(value: object) -> Any:
        if isinstance(value, Update):
            if event is not None:
                return event(value.event)
            return progress(value.job) if progress is not None and value.changed else None
        if isinstance(value, Operation):
            return operation(value) if operation is not None else None
        if isinstance(value, DownloadProgress):
            return download(value.done, value.total) if download is not None else None
        if isinstance(value, ConnectionEvent) and connection is not None:
            heard = outages.feed(value)
            return connection(heard) if heard is not None else None
        return None

    return route


class ClientBase:
    """Settings, context and the flow of every public method (no I/O).

    Args:
        base_url: the API base URL (falls back to ``jobctl.config``).
        token: the bearer token (falls back to ``jobctl.config``).
        profile: the config profile to read.
        timeout: the per-request timeout in seconds.
        poll: the poll pacing.
        max_retries: transport retries per request.
        verify: TLS verification: True, False, or a CA bundle path.
        runtime: clocks and randomness (tests inject fakes).
    """

    def __init__(
        self,
        base_url: str | None,
        token: str | None,
        *,
        profile: str | None,
        timeout: float | None,
        poll: PollPolicy | None,
        max_retries: int,
        verify: bool | str | ssl.SSLContext,
        runtime: Runtime,
    ) -> None:
        from ..config import resolve_settings

        settings = resolve_settings(url=base_url, token=token, profile=profile)
        url = settings.url.strip().rstrip("/")
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidArgumentError(
                f"the API URL must start with http:// or https://, got {redact_url(url)!r}"
            )
        try:
            # user:password@ in the URL are credentials like the token: kept out of every
            # URL the SDK makes (and so out of Job.status_url, logs and errors), and sent
            # as Basic auth to the base URL's origin only.
            url, self._basic = split_credentials(url)
        except ValueError as exc:
            raise InvalidArgumentError(f"the API URL {exc}") from None
        if settings.token is not None and not (
            settings.token.isascii() and settings.token.isprintable() and " " not in settings.token
        ):
            raise InvalidArgumentError("the token has characters an HTTP header can't carry")
        if max_retries < 0:
            raise InvalidArgumentError("max_retries must be >= 0")
        self.base_url = url
        self._token = settings.token
        self._wait_timeout = settings.timeout
        self._timeout = timeout
        self._verify = verify
        self.poll = poll if poll is not None else PollPolicy()
        self.max_retries = max_retries
        self._runtime = runtime
        self._ctx = Context(url, self.poll, runtime, max_retries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- requests -------------------------------------------------------------

    def _headers(self, req: Request) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers.update(req.headers)
        if req.auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        elif req.auth and self._basic is not None:
            user, password = self._basic
            raw = f"{user}:{password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        return headers

    def _httpx_request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        req: Request,
        extensions: dict[str, Any] | None = None,
    ) -> httpx.Request:
        headers = self._headers(req)
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        read = req.read_timeout
        remaining = self._runtime.left(req.deadline)
        if remaining is not None:
            # one overall deadline: no request may outlive it by more than a second
            left = max(0.05, remaining + 1.0)
            base = left if self._timeout is None else min(self._timeout, left)
            timeout = httpx.Timeout(base, read=base if read is None else min(read, left))
        elif read is not None:
            timeout = httpx.Timeout(self._timeout, read=read)
        log.debug("-> %s %s %s", req.method, safe_url(req.url), redact_headers(headers))
        request = client.build_request(
            req.method,
            req.url,
            headers=headers,
            params=req.params,
            json=req.json,
            content=req.content,
            timeout=timeout,
            extensions=extensions,
        )
        if not req.auth:
            # Credentials go to the base URL's origin only, also those a caller's own
            # http_client adds to every request (its `auth` is turned off at send time).
            # Any header it adds is taken off, not only Authorization and Cookie: an
            # `api-key` or `X-Api-Key` default is as much a credential, and nothing tells
            # a key from a harmless header, so only the transport's own headers remain.
            own = {k.lower() for k in req.headers}
            added = {k.lower() for k in client.headers} - _TRANSPORT_HEADERS
            for name in {*_CREDENTIAL_HEADERS, *added} - own:
                if name in request.headers:
                    del request.headers[name]
        return request

    def _ws_settings(self, req: Request) -> tuple[str, dict[str, str], str, float | None]:
        """A WebSocket upgrade's ``ws(s)://`` URL, headers (the credentials only when
        ``req.auth``, as for any request), ``User-Agent`` and opening timeout."""
        headers = self._headers(req)
        agent = headers.pop("User-Agent")
        headers.pop("Accept", None)
        log.debug("-> GET %s (WebSocket) %s", safe_url(req.url), redact_headers(headers))
        url = req.url
        if url.lower().startswith(("http://", "https://")):
            url = "ws" + url[4:]
        remaining = self._runtime.left(req.deadline)
        opening = self._timeout
        if remaining is not None:
            left = max(0.05, remaining + 1.0)
            opening = left if opening is None else min(opening, left)
        return url, headers, agent, opening

    def _ws_read_timeout(self, req: Request) -> float | None:
        """How long one read of a WebSocket may wait: its read timeout, cut to the deadline."""
        remaining = self._runtime.left(req.deadline)
        if remaining is None:
            return req.read_timeout
        cut = max(0.05, remaining)
        return cut if req.read_timeout is None else min(req.read_timeout, cut)

    def _log_reply(self, req: Request, response: httpx.Response, started: float) -> None:
        log.debug(
            "<- %s %s %d (%.3fs)",
            req.method,
            safe_url(req.url),
            response.status_code,
            self._runtime.clock() - started,
        )

    # -- flows ----------------------------------------------------------------

    def deadline(self, timeout: float | Deadline | None) -> Deadline:
        """One deadline to share between calls (``submit`` then ``wait``, as ``run`` does).

        Pass it as ``timeout=`` to each call: the second continues where the first
        left off instead of starting a new countdown.

        Args:
            timeout: seconds from now (a finite number >= 0), None for no
                deadline, or a ``Deadline`` (returned as it is).

        Raises:
            InvalidArgumentError: (a ``ValueError``) for NaN, a negative number,
                a string, or anything else that is not a number of seconds.
        """
        return self._runtime.deadline(timeout)

    def _submit(
        self, type: str, input: Any, timeout: float | Deadline | None, **kwargs: Any
    ) -> Flow[Job]:
        return submit_flow(self._ctx, type, input, deadline=self.deadline(timeout), **kwargs)

    def _get(self, job: JobRef) -> Flow[Job]:
        ctx, target = target_of(self._ctx, job)
        found, _ = yield from get_flow(ctx, target)
        return found

    def _wait_deadline(self, timeout: float | Deadline | None) -> Deadline:
        """A wait's deadline: ``timeout``, else the configured default (``JOBCTL_TIMEOUT``)."""
        return self.deadline(self._wait_timeout if timeout is None else timeout)

    def _wait(
        self, job: JobRef, deadline: Deadline, strategy: Strategy, progress: bool = True
    ) -> Flow[Job]:
        ctx, target = target_of(self._ctx, job)
        final = yield from follow_flow(
            ctx, target, deadline=deadline, strategy=strategy, progress=progress
        )
        assert final is not None
        return final

    def _wait_many(
        self, jobs: Iterable[JobRef], deadline: Deadline, strategy: ManyStrategy
    ) -> Flow[list[Job]]:
        if isinstance(jobs, str | Job):
            raise InvalidArgumentError("pass a list of jobs (a Job, a job id or a status URL each)")
        if strategy not in ("auto", "sse", "poll", "ws"):
            raise InvalidArgumentError("strategy must be 'auto', 'sse', 'poll' or 'ws'")
        targets = [target_of(self._ctx, ref)[1] for ref in jobs]
        if strategy == "ws":
            ended = yield from ws_many_flow(self._ctx, targets, deadline=deadline)
        else:
            ended = yield from many_flow(self._ctx, targets, deadline=deadline, strategy=strategy)
        return [ended[target.job_id] for target in targets]

    def _watch(
        self, type: str | None, status: Sequence[str], last_event_id: str | None
    ) -> Flow[None]:
        if isinstance(status, str):
            status = [status]
        yield from watch_flow(
            self._ctx,
            deadline=self.deadline(None),
            type=type,
            statuses=list(status),
            last_event_id=last_event_id,
        )

    def _events(self, job: JobRef, last_event_id: str | None) -> Flow[None]:
        ctx, target = target_of(self._ctx, job)
        yield from follow_flow(
            ctx,
            target,
            deadline=self.deadline(None),
            strategy="auto",
            last_event_id=last_event_id,
            final=False,
        )

    def _cancel(self, job: JobRef) -> Flow[Job]:
        ctx, target = target_of(self._ctx, job)
        return (yield from cancel_flow(ctx, target))

    def _retry(
        self, job: JobRef, idempotency_key: str | None, timeout: float | Deadline | None
    ) -> Flow[Job]:
        ctx, target = target_of(self._ctx, job)
        deadline = self.deadline(timeout)
        return (
            yield from retry_flow(ctx, target, idempotency_key=idempotency_key, deadline=deadline)
        )

    def _events_ticket(
        self,
        job: JobRef | Sequence[JobRef] | None,
        status: str | Sequence[str] | None,
        type: str | None,
    ) -> Flow[str]:
        if isinstance(job, (str, Job)):
            ctx, target = target_of(self._ctx, job)
            return (yield from events_ticket_flow(ctx, target, status=status, type=type))
        ids = [target_of(self._ctx, ref)[1].job_id for ref in job or ()]
        return (yield from events_ticket_flow(self._ctx, None, ids, status=status, type=type))

    def _list(self, **kwargs: Any) -> Flow[JobPage]:
        return list_flow(self._ctx, **kwargs)

    def _iter_jobs(self, **kwargs: Any) -> Flow[None]:
        return iter_jobs_flow(self._ctx, **kwargs)

    def _download(
        self,
        job: JobRef,
        dest: str | os.PathLike[str] | IO[bytes],
        resume: bool,
        overwrite: bool,
    ) -> Flow[Path | None]:
        ctx, target = target_of(self._ctx, job)

        def open_sink(found: Job) -> Sink:
            return make_sink(dest, found.job_id, resume, overwrite)

        return (yield from download_flow(ctx, target, open_sink))

    def _call(
        self, method: str, url: str, timeout: float | Deadline | None, **kw: Any
    ) -> Flow[Operation]:
        return call_flow(self._ctx, method, url, deadline=self.deadline(timeout), **kw)

    def _operation(
        self, op: Operation | str, headers: Mapping[str, str] | None, deadline: Deadline
    ) -> Flow[Operation]:
        """An ``Operation`` from what the caller holds: itself, a resume token, or a URL."""
        if isinstance(op, str):
            text = op.strip()
            if text.startswith(TOKEN_PREFIX):
                op = Operation.from_token(text)
            else:  # a monitor URL: look once to learn its dialect
                op = yield from monitor_flow(self._ctx, text, dict(headers or {}), deadline)
        elif not isinstance(op, Operation):
            raise InvalidArgumentError("an operation must be an Operation, a resume token or a URL")
        if headers:
            op = replace(op, headers=tuple({**dict(op.headers), **headers}.items()))
        return op

    def _wait_operation(
        self,
        op: Operation | str,
        timeout: float | Deadline | None,
        headers: Mapping[str, str] | None,
    ) -> Flow[OperationResult]:
        deadline = self._wait_deadline(timeout)
        found = yield from self._operation(op, headers, deadline)
        return (yield from operation_flow(self._ctx, found, deadline))

    def _cancel_operation(
        self, op: Operation | str, headers: Mapping[str, str] | None
    ) -> Flow[bool]:
        deadline = self.deadline(None)
        found = yield from self._operation(op, headers, deadline)
        return (yield from cancel_operation_flow(self._ctx, found, deadline))

    def _run(
        self,
        type: str,
        input: Any,
        timeout: float | Deadline | None,
        strategy: Strategy,
        submit_kwargs: Mapping[str, Any],
        progress: bool = True,
    ) -> Flow[Job]:
        deadline = self._wait_deadline(timeout)
        job = yield from submit_flow(self._ctx, type, input, deadline=deadline, **submit_kwargs)
        final = yield from self._wait(job, deadline, strategy, progress)
        return final.raise_for_status()
