"""``AsyncJobsClient``: the asyncio shell around the shared flows.

This file is the source of ``sync.py``: ``scripts/unasync.py`` turns it into
the sync client (``async``/``await`` removed, names mapped, ``# sync:`` comments
applied) and a test fails when the two drift. Every decision is made in the pure
core (``jobctl._core``); this file only does I/O.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import os
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TypeVar

import httpx

from .._core.context import Runtime
from .._core.deadline import Deadline
from .._core.effects import Close, Connect, Effect, Emit, Flow, Open, Read, Send, Sleep, Transmit
from .._core.flows.follow import Strategy, Update
from .._core.flows.many import Ended
from .._core.flows.many_ws import ManyStrategy
from .._core.http import MAX_JSON_BODY, Reply, Request, SocketClosed, TransportFailure, log
from .._core.notices import ConnectionEvent
from .._core.operations import Operation, OperationResult
from .._core.polling import PollPolicy
from .._core.refs import JobRef
from .._core.urls import safe_url
from ..errors import InvalidArgumentError, JobctlError
from ..models import Job, JobEvent, JobPage
from .base import (
    LIMITS,
    WS_CLOSE_TIMEOUT,
    WS_EXTRA,
    ClientBase,
    body_limit,
    callbacks,
    closed_of,
    map_transport_error,
    map_ws_error,
    no_cookie_jar,
    tls_verify,
)
from .transport import LANE, AsyncLane, AsyncRouter, LazyTLS

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

__all__ = ["AsyncJobsClient"]

T = TypeVar("T")


class _Stream:
    """An open response body being read chunk by chunk."""

    def __init__(self, response: httpx.Response, req: Request) -> None:
        self.response = response
        self.req = req
        self.chunks = response.aiter_bytes()

    async def read(self) -> bytes:
        try:
            return await anext(self.chunks, b"")
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise map_transport_error(exc, self.req.method, self.req.url) from None

    async def aclose(self) -> None:
        with contextlib.suppress(httpx.HTTPError, httpx.StreamError, OSError, RuntimeError):
            await self.response.aclose()


class _Socket:
    """An open WebSocket (``strategy="ws"``): text messages in and out.

    Each read waits at most ``timeout()`` seconds (the request's read timeout, cut to
    its deadline). ``websockets`` answers the server's pings and sends its own, so a
    dead connection closes (1011) instead of hanging.
    """

    def __init__(
        self, conn: ClientConnection, req: Request, timeout: Callable[[], float | None]
    ) -> None:
        self.conn = conn
        self.req = req
        self.timeout = timeout

    async def read(self) -> str | SocketClosed:
        from websockets.exceptions import ConnectionClosed

        wait = self.timeout()
        try:
            received = self.conn.recv()  # sync:
            message = await asyncio.wait_for(received, wait)  # sync: message = self.conn.recv(wait)
        except TimeoutError:
            where = safe_url(self.req.url)
            raise TransportFailure(
                f"GET {where}: no message within {wait}s", kind="timeout", method="GET"
            ) from None
        except ConnectionClosed as exc:
            return closed_of(exc)
        return message if isinstance(message, str) else message.decode("utf-8", "replace")

    async def send(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self.conn.send(text)
        except ConnectionClosed as exc:
            closed = closed_of(exc)
            where = safe_url(self.req.url)
            raise TransportFailure(
                f"GET {where}: the WebSocket closed ({closed.code})", kind="read", method="GET"
            ) from None

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.conn.close()


class AsyncJobsClient(ClientBase):
    """An asyncio client for async job APIs (see docs/sdk.md); an async context manager.

    Args:
        base_url: the API base URL; falls back to ``JOBCTL_URL`` / the config file.
        token: the bearer token; falls back to ``JOBCTL_TOKEN`` / the config file.
        profile: the config profile to read settings from.
        timeout: the per-request timeout in seconds (waits have their own deadline).
        poll: the poll pacing (``PollPolicy()`` when None).
        max_retries: transport retries per request.
        http_client: your own ``httpx.AsyncClient`` (proxies, certificates, transports);
            it is not closed by ``aclose()``.
        verify: TLS verification: True, False, an ``ssl.SSLContext``, or the path of
            a CA bundle (``--ca-bundle``).
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        profile: str | None = None,
        timeout: float | None = 30.0,
        poll: PollPolicy | None = None,
        max_retries: int = 4,
        http_client: httpx.AsyncClient | None = None,
        verify: bool | str | ssl.SSLContext = True,
        _sleep: Callable[[float], Any] | None = None,
        _runtime: Runtime | None = None,
    ) -> None:
        super().__init__(
            base_url,
            token,
            profile=profile,
            timeout=timeout,
            poll=poll,
            max_retries=max_retries,
            verify=verify,
            runtime=_runtime or Runtime(),
        )
        self._owns_client = http_client is None
        verified = tls_verify(verify)
        self._tls = LazyTLS(verified)
        # verify also reaches the proxy transports httpx mounts from the environment
        self._client = http_client or httpx.AsyncClient(
            timeout=timeout,
            verify=verified,
            follow_redirects=False,
            cookies=no_cookie_jar(),
            transport=AsyncRouter(self._tls, LIMITS),
        )
        self._sleep = _sleep or asyncio.sleep

    async def aclose(self) -> None:
        """Close the HTTP connections (not those of a client you passed in)."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncJobsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- public API -----------------------------------------------------------

    async def submit(
        self,
        type: str,
        input: Any = None,
        *,
        idempotency_key: str | None = None,
        webhook: str | dict[str, Any] | None = None,
        priority: int | None = None,
        correlation_id: str | None = None,
        timeout: float | Deadline | None = None,  # noqa: ASYNC109  # sync: timeout: float | Deadline | None = None,
    ) -> Job:
        """Submit a job; every transport retry reuses one ``Idempotency-Key``.

        Args:
            type: the job type.
            input: the job input (a JSON object).
            idempotency_key: your key; a UUID4 is generated when None.
            webhook: a callback URL or ``{"url", "secret"?, "events"?}``.
            priority: the job priority.
            correlation_id: sent as ``X-Correlation-Id``.
            timeout: seconds the submit may take in all, retries included (None: no
                limit beyond the per-request timeout and ``max_retries``), or a
                ``Deadline`` shared with other calls (``deadline()``).

        Returns:
            The pending job (``replayed`` is True when the server had it already).
        """
        flow = self._submit(
            type,
            input,
            timeout,
            idempotency_key=idempotency_key,
            webhook=webhook,
            priority=priority,
            correlation_id=correlation_id,
        )
        return await self._drive(flow)

    async def get(self, job: JobRef) -> Job:
        """Read a job's current status (a 303 from the status URL means completed).

        Args:
            job: a ``Job``, a job id or a status URL.
        """
        return await self._drive(self._get(job))

    async def wait(
        self,
        job: JobRef,
        *,
        timeout: float | Deadline | None = None,  # noqa: ASYNC109  # sync: timeout: float | Deadline | None = None,
        on_progress: Callable[[Job], Any] | None = None,
        strategy: Strategy = "auto",
        on_connection: Callable[[ConnectionEvent], Any] | None = None,
    ) -> Job:
        """Follow a job to its end under one overall deadline.

        Args:
            job: a ``Job``, a job id or a status URL.
            timeout: the deadline in seconds, or a ``Deadline`` shared with other
                calls (None: the configured default, else none). Even with 0 the
                job's status is read once before the deadline is judged.
            on_progress: called with the current ``Job`` snapshot whenever its status
                or progress changes, whether learnt from the stream or a poll.
            strategy: ``auto`` (events, falling back to long polls, then polls),
                ``sse`` or ``poll``.
            on_connection: called with a ``ConnectionEvent`` when the server can't be
                reached (a retry follows, within the deadline) and when it can again.

        Returns:
            The terminal job, whatever its status.

        Raises:
            WaitTimeoutError: the deadline passed first (``.job`` is the last snapshot).
        """
        listens = on_progress is not None  # long polls end at progress steps only then
        flow = self._wait(job, self._wait_deadline(timeout), strategy, listens)
        return await self._drive(flow, callbacks(progress=on_progress, connection=on_connection))

    async def wait_many(
        self,
        jobs: Iterable[JobRef],
        *,
        timeout: float | Deadline | None = None,  # noqa: ASYNC109  # sync: timeout: float | Deadline | None = None,
        on_event: Callable[[JobEvent], Any] | None = None,
        strategy: ManyStrategy = "auto",
        on_connection: Callable[[ConnectionEvent], Any] | None = None,
    ) -> builtins.list[Job]:
        """Follow many jobs to their ends under one deadline, over one connection.

        The jobs are followed on the multiplexed event stream (``GET /api/events``):
        one connection whatever their number (two, briefly, for more than one URL
        holds). A server without it: the jobs are polled in turns.

        Args:
            jobs: ``Job``s, job ids or status URLs.
            timeout: the deadline in seconds, or a ``Deadline`` shared with other calls.
            on_event: called with every event of every job (``event.job_id`` says which,
                ``event.job`` is the job's snapshot after it).
            strategy: ``auto`` (the stream, falling back to polls), ``sse``, ``poll``, or
                ``ws``: the WebSocket feed (``GET /api/ws``; needs ``jobctl[ws]``).
            on_connection: called when the server can't be reached, and when it can again.

        Returns:
            The terminal job of each, in the order given.

        Raises:
            WaitTimeoutError: the deadline passed first (``.jobs``: the unfinished ones'
                last snapshots).
        """
        flow = self._wait_many(jobs, self._wait_deadline(timeout), strategy)
        return await self._drive(flow, callbacks(event=on_event, connection=on_connection))

    async def as_completed(
        self,
        jobs: Iterable[JobRef],
        *,
        timeout: float | Deadline | None = None,  # noqa: ASYNC109  # sync: timeout: float | Deadline | None = None,
        strategy: ManyStrategy = "auto",
    ) -> AsyncIterator[Job]:
        """The jobs' terminal ``Job``s in the order they end (as ``wait_many`` follows them).

        Args:
            jobs: ``Job``s, job ids or status URLs.
            timeout: the deadline in seconds, or a ``Deadline`` shared with other calls.
            strategy: ``auto``, ``sse``, ``poll`` or ``ws`` (as for ``wait_many``).

        Raises:
            WaitTimeoutError: the deadline passed before every job ended.
        """
        flow = self._wait_many(jobs, self._wait_deadline(timeout), strategy)
        async for value in self._drive_iter(flow):
            if isinstance(value, Ended):
                yield value.job

    async def watch(
        self,
        *,
        type: str | None = None,
        status: Sequence[str] = (),
        last_event_id: str | None = None,
    ) -> AsyncIterator[JobEvent]:
        """Every event of every job of the caller, new jobs included, as it happens.

        One stream (``GET /api/events``, no ``job``), resumed after a cut with
        ``Last-Event-ID``; it goes on until the caller stops iterating. Each event's
        ``job_id`` says which job; the first events are a snapshot of the running jobs.

        Args:
            type: only jobs of this type.
            status: only events whose status is one of these.
            last_event_id: resume after this event id.

        Raises:
            ProtocolError: the server has no stream of all the caller's jobs.
        """
        async for value in self._drive_iter(self._watch(type, status, last_event_id)):
            if isinstance(value, JobEvent):
                yield value

    async def events(
        self, job: JobRef, *, last_event_id: str | None = None
    ) -> AsyncIterator[JobEvent]:
        """The job's events until it ends (falling back to polling-derived events).

        Args:
            job: a ``Job``, a job id or a status URL.
            last_event_id: resume after this event id.
        """
        async for value in self._drive_iter(self._events(job, last_event_id)):
            if isinstance(value, Update):
                yield value.event

    async def events_ticket(
        self,
        job: JobRef | Sequence[JobRef] | None = None,
        *,
        status: str | Sequence[str] | None = None,
        type: str | None = None,
    ) -> str:
        """A ticketed events URL to hand to a browser's ``EventSource`` (no token in it).

        The server signs a ticket that opens that one stream, without a token, for
        60 s (a stream opened in time lasts as long as it lasts; ``EventSource``'s
        reconnections within the 60 s go on with the same URL).

        Args:
            job: one job (its own stream), several jobs, or None (every job of yours,
                new ones too): the multiplexed stream.
            status: only events whose status is one of these (multiplexed only).
            type: only jobs of this type (multiplexed only).

        Returns:
            The absolute URL with ``?ticket=``.
        """
        return await self._drive(self._events_ticket(job, status, type))

    async def cancel(self, job: JobRef) -> Job:
        """Cancel a job.

        Args:
            job: a ``Job``, a job id or a status URL.
        """
        return await self._drive(self._cancel(job))

    async def retry(
        self,
        job: JobRef,
        *,
        idempotency_key: str | None = None,
        timeout: float | Deadline | None = None,  # noqa: ASYNC109  # sync: timeout: float | Deadline | None = None,
    ) -> Job:
        """Retry a failed, retryable job.

        Args:
            job: the failed job (a ``Job``, an id or a status URL).
            idempotency_key: your key; a UUID4 is generated when None.
            timeout: seconds the retry request may take in all, its own retries
                included, or a ``Deadline`` shared with other calls.

        Returns:
            The new job.
        """
        return await self._drive(self._retry(job, idempotency_key, timeout))

    async def list(
        self,
        *,
        status: str | Sequence[str] | None = None,
        type: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> JobPage:
        """One page of your jobs, newest first.

        Args:
            status: a status or several to filter on.
            type: a job type to filter on.
            limit: page size, 1..100.
            offset: jobs to skip.
        """
        flow = self._list(status=status, type=type, limit=limit, offset=offset)
        return await self._drive(flow)

    async def iter_jobs(
        self,
        *,
        status: str | Sequence[str] | None = None,
        type: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> AsyncIterator[Job]:
        """Every matching job, page after page.

        Args:
            status: a status or several to filter on.
            type: a job type to filter on.
            limit: page size, 1..100.
            offset: where to start.
        """
        flow = self._iter_jobs(status=status, type=type, limit=limit, offset=offset)
        async for found in self._drive_iter(flow):
            if isinstance(found, Job):
                yield found

    async def download(
        self,
        job: JobRef,
        path_or_file: str | os.PathLike[str] | IO[bytes],
        *,
        resume: bool = True,
        overwrite: bool = True,
        on_progress: Callable[[int, int | None], Any] | None = None,
    ) -> Path | None:
        """Download a completed job's result, verified and atomically written.

        Args:
            job: a ``Job``, a job id or a status URL.
            path_or_file: a file path, a directory (the file name then comes from
                ``Content-Disposition``) or a binary file object.
            resume: continue a ``.part`` file left by an earlier, broken download.
            overwrite: replace an existing file with other bytes; False raises
                ``OutputExistsError`` instead (the same bytes count as success).
            on_progress: called with ``(bytes_done, total_or_None)``.

        Returns:
            The path written, or None when writing to a file object.
        """
        flow = self._download(job, path_or_file, resume, overwrite)
        return await self._drive(flow, callbacks(download=on_progress))

    async def run(
        self,
        type: str,
        input: Any = None,
        *,
        timeout: float | Deadline | None = None,  # noqa: ASYNC109  # sync: timeout: float | Deadline | None = None,
        on_progress: Callable[[Job], Any] | None = None,
        strategy: Strategy = "auto",
        on_connection: Callable[[ConnectionEvent], Any] | None = None,
        **submit_kwargs: Any,
    ) -> Job:
        """Submit, wait and ``raise_for_status()``: the completed job.

        Args:
            type: the job type.
            input: the job input.
            timeout: one deadline in seconds (or a ``Deadline``) for the submit and
                the wait together.
            on_progress: as for ``wait``.
            strategy: as for ``wait``.
            on_connection: as for ``wait``.
            **submit_kwargs: ``idempotency_key``, ``webhook``, ``priority``, ``correlation_id``.
        """
        flow = self._run(type, input, timeout, strategy, submit_kwargs, on_progress is not None)
        return await self._drive(flow, callbacks(progress=on_progress, connection=on_connection))

    async def call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        dialect: str = "auto",
        final_state_via: str | None = None,
        idempotency_key: str | None = None,
        timeout: float | Deadline | None = None,  # noqa: ASYNC109  # sync: timeout: float | Deadline | None = None,
    ) -> Operation:
        """Send a request to any async API and return the operation it started.

        The request is retried only where that is safe (GET, PUT, DELETE, or a
        POST/PATCH with ``idempotency_key``). The dialect (ours, Azure, Google
        AIP-151, plain ``202 + Location``, or done at once) is read from the answer
        (docs/operations.md), or forced with ``dialect``.

        Args:
            method: the HTTP method.
            url: an absolute URL, or a path relative to ``base_url``.
            json: a JSON body.
            content: a raw body (instead of ``json``).
            headers: headers for every request of the operation to its origin only.
            dialect: ``auto``, ``jobctl``, ``azure``, ``google`` or ``location``.
            final_state_via: Azure's final-state rule (``location``,
                ``azure-async-operation``, ``operation-location``, ``original-uri``).
            idempotency_key: sent as ``Idempotency-Key`` (also Azure's
                ``Repeatability-Request-ID`` with ``dialect="azure"``).
            timeout: seconds the request may take, its retries included.

        Returns:
            The ``Operation`` (``.dialect``, ``.status``, ``.resume_token``).
        """
        flow = self._call(
            method,
            url,
            timeout,
            json=json,
            content=content,
            headers=headers,
            dialect=dialect,
            final_state_via=final_state_via,
            idempotency_key=idempotency_key,
        )
        return await self._drive(flow)

    async def wait_operation(
        self,
        op: Operation | str,
        *,
        timeout: float | Deadline | None = None,  # noqa: ASYNC109  # sync: timeout: float | Deadline | None = None,
        on_progress: Callable[[Operation], Any] | None = None,
        on_connection: Callable[[ConnectionEvent], Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> OperationResult:
        """Follow an operation of any async API to its end under one deadline.

        Args:
            op: from ``call``, a resume token (``Operation.from_token``), or a monitor
                URL (its dialect is read from its first answer).
            timeout: the deadline in seconds, or a ``Deadline``.
            on_progress: called with the ``Operation`` whenever its status or
                progress changes.
            on_connection: as for ``wait``.
            headers: headers for its origin (a resumed operation's token holds none).

        Returns:
            An ``OperationResult`` with exactly one ``outcome``: ``succeeded``,
            ``failed``, ``cancelled``, ``timeout`` or ``error`` (its ``exception``
            says why); this never raises for the operation's fate.
        """
        flow = self._wait_operation(op, timeout, headers)
        route = callbacks(operation=on_progress, connection=on_connection)
        return await self._drive(flow, route)

    async def cancel_operation(
        self, op: Operation | str, *, headers: dict[str, str] | None = None
    ) -> bool:
        """Ask the server to cancel an operation of any API.

        Args:
            op: an ``Operation``, a resume token or a monitor URL.
            headers: headers for its origin.

        Returns:
            True when the request was accepted; False when its dialect has no way to
            cancel (Azure's operations, or one that already ended by its request).
        """
        return await self._drive(self._cancel_operation(op, headers))

    # -- I/O ------------------------------------------------------------------

    async def _drive(self, flow: Flow[T], on_emit: Callable[[Any], Any] | None = None) -> T:
        result: builtins.list[T] = []
        async for value in self._drive_iter(flow, result):
            if on_emit is not None:
                outcome = on_emit(value)  # sync: on_emit(value)
                if inspect.isawaitable(outcome):  # sync:
                    await outcome  # sync:
        return result[0]

    async def _drive_iter(
        self, flow: Flow[Any], result: builtins.list[Any] | None = None
    ) -> AsyncIterator[Any]:
        streams: builtins.list[_Stream | _Socket] = []
        # the call's own connection for its streams and long polls (own client only)
        lane = AsyncLane(self._tls) if self._owns_client else None
        value: Any = None
        error: JobctlError | None = None
        try:
            while True:
                try:
                    effect = flow.throw(error) if error is not None else flow.send(value)
                except StopIteration as stop:
                    if result is not None:
                        result.append(stop.value)
                    return
                value, error = None, None
                if isinstance(effect, Emit):
                    yield effect.value
                    continue
                try:
                    value = await self._perform(effect, streams, lane)
                except JobctlError as exc:
                    error = exc
        finally:
            flow.close()
            for stream in streams:
                await stream.aclose()
            if lane is not None:
                await lane.aclose()

    async def _perform(
        self, effect: Effect, streams: builtins.list[_Stream | _Socket], lane: AsyncLane | None
    ) -> Any:
        if isinstance(effect, Send):
            # a long poll (it has a read timeout of its own) is long-held, like a stream
            held = effect.request.read_timeout is not None
            return await self._send(effect.request, stream=False, lane=_lane_for(lane, held))
        if isinstance(effect, Open):
            reply = await self._send(effect.request, stream=True, lane=_lane_for(lane, True))
            if reply.stream is not None:
                streams.append(reply.stream)
            return reply
        if isinstance(effect, Connect):
            reply = await self._connect(effect.request)
            if reply.stream is not None:
                streams.append(reply.stream)
            return reply
        if isinstance(effect, Transmit):
            await effect.stream.send(effect.text)
            return None
        if isinstance(effect, Read):
            return await effect.stream.read()
        if isinstance(effect, Close):
            await effect.stream.aclose()
            return None
        if isinstance(effect, Sleep):
            await self._sleep(max(0.0, effect.seconds))
            return None
        raise TypeError(f"unknown effect {effect!r}")

    async def _connect(self, req: Request) -> Reply:
        """Open a WebSocket: a ``Reply`` with the socket (101), or the server's refusal."""
        try:
            from websockets.asyncio.client import connect
        except ImportError:
            raise InvalidArgumentError(WS_EXTRA) from None
        url, headers, agent, opening = self._ws_settings(req)
        options: dict[str, Any] = {}
        if url.lower().startswith("wss:"):
            options["ssl"] = self._tls.context()
        started = self._runtime.clock()
        try:
            # entered as a context manager (sync): websockets 17 deprecates a bare call,
            # and before it the connection was its own context manager
            handshake = connect(
                url,
                additional_headers=headers,
                user_agent_header=agent,
                open_timeout=opening,
                close_timeout=WS_CLOSE_TIMEOUT,
                max_size=MAX_JSON_BODY,
                **options,
            )
            conn = await handshake  # sync: conn = handshake.__enter__()
        except Exception as exc:
            refusal = map_ws_error(exc, req.url)
            if isinstance(refusal, Reply):
                return refusal
            raise refusal from None
        status = conn.response.status_code if conn.response is not None else 101
        elapsed = self._runtime.clock() - started
        log.debug("<- GET %s %d (%.3fs)", safe_url(req.url), status, elapsed)
        reply = Reply(status, httpx.Headers(), url=req.url, method="GET")
        reply.stream = _Socket(conn, req, lambda: self._ws_read_timeout(req))
        return reply

    async def _send(self, req: Request, *, stream: bool, lane: AsyncLane | None = None) -> Reply:
        started = self._runtime.clock()
        try:
            extensions = None if lane is None else {LANE: lane}
            request = self._httpx_request(self._client, req, extensions)
            auth = httpx.USE_CLIENT_DEFAULT if req.auth else None
            response = await self._client.send(
                request, stream=True, follow_redirects=False, auth=auth
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise map_transport_error(exc, req.method, req.url) from None
        self._log_reply(req, response, started)
        reply = Reply(response.status_code, response.headers, url=req.url, method=req.method)
        if stream and 200 <= response.status_code < 300:
            reply.stream = _Stream(response, req)
            return reply
        limit = body_limit(response.status_code)
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    reply.truncated = True
                    break
        except httpx.HTTPError as exc:
            raise map_transport_error(exc, req.method, req.url) from None
        finally:
            await response.aclose()
        reply.body = bytes(body[:limit])
        return reply


def _lane_for(lane: AsyncLane | None, held: bool) -> AsyncLane | None:
    """The lane a request goes over: long-held ones always; the rest once the lane has a
    connection (the final GET after a stream reuses it instead of the shared pool)."""
    if lane is not None and (held or lane.used):
        return lane
    return None
