"""Where the SDK's own HTTP client sends a request: the shared pool, or a follow's lane.

An event stream or a long poll holds its connection for seconds or minutes. In one
shared httpcore pool, a thousand of them queue behind the connection limit, and the
pool's bookkeeping (which walks every connection for every queued request on each
request start and end) spins at full CPU; queued long polls also wait seconds before
they are sent (encode/httpcore#822). So the SDK's own client gets a routing
transport: a request tagged with a ``Lane`` (one per ``wait``/``events``/``download``
call, see ``aio.py``) goes over that lane's own connection, closed when the call
ends; every other request (submit, get, cancel, list) uses the shared pool, which
then only ever holds short requests. A burst of those (a thousand submits at once)
waits at a gate in front of the pool (a semaphore as wide as the pool, released when
the response is closed), so httpcore never has a queue to walk.

TLS costs nothing until it is needed: the SSL context (about 20–60 ms to load the
CA store) is built on the first ``https`` request and shared by the pool and every
lane. A client given by the caller (``http_client=``) is used as it is, lanes and
all: its transport, proxies and hooks are the caller's to choose.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

import httpx

if TYPE_CHECKING:
    import asyncio

__all__ = ["LANE", "LANE_LIMITS", "AsyncLane", "AsyncRouter", "Lane", "LazyTLS", "Router"]

LANE = "jobctl.lane"
"""The request extension that names the lane a request must use."""
LANE_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=1)
"""A lane keeps one connection alive between its requests (a reconnect, the next long
poll, the final GET); should a flow ever overlap two requests, the second gets a
connection of its own instead of waiting for the first."""

T = TypeVar("T", httpx.HTTPTransport, httpx.AsyncHTTPTransport)

_plain: ssl.SSLContext | None = None


def _plain_context() -> ssl.SSLContext:
    # httpx wants a context even for a pool that only ever speaks plain http; this one
    # trusts no CA (any TLS handshake through it would fail) and costs no CA loading.
    global _plain
    if _plain is None:
        _plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _plain


class LazyTLS:
    """The SSL context for ``https`` requests, built on first use and then shared.

    Args:
        verify: True (the system/certifi CAs, honouring ``SSL_CERT_FILE``/``SSL_CERT_DIR``),
            False (no verification), or a ready ``ssl.SSLContext``.
    """

    def __init__(self, verify: bool | ssl.SSLContext) -> None:
        self._verify = verify
        self._context = verify if isinstance(verify, ssl.SSLContext) else None
        self._lock = threading.Lock()

    def context(self) -> ssl.SSLContext:
        """The context (built now if this is the first ``https`` request)."""
        with self._lock:
            if self._context is None:
                self._context = httpx.create_ssl_context(verify=self._verify, trust_env=True)
            return self._context


class _Pools(Generic[T]):
    """One transport per scheme (``http`` / ``https``), made on first use."""

    def __init__(self, make: Callable[..., T], tls: LazyTLS, limits: httpx.Limits) -> None:
        self._make: Callable[..., T] = make
        self._tls = tls
        self._limits = limits
        self._made: dict[str, T] = {}
        self._lock = threading.Lock()

    @property
    def used(self) -> bool:
        return bool(self._made)

    def get(self, url: httpx.URL) -> T:
        key = "https" if url.scheme == "https" else "http"
        with self._lock:
            transport = self._made.get(key)
            if transport is None:
                ctx = self._tls.context() if key == "https" else _plain_context()
                transport = self._made[key] = self._make(verify=ctx, limits=self._limits)
            return transport

    def take_all(self) -> list[T]:
        with self._lock:
            made = list(self._made.values())
            self._made.clear()
        return made


def _pool_timeout(request: httpx.Request) -> float | None:
    timeout: dict[str, float | None] = request.extensions.get("timeout") or {}
    return timeout.get("pool")


class _Release:
    """Gives a gate's slot back once, whichever of close or failure comes first."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def __call__(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class _AsyncGatedStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, release: _Release) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


class _GatedStream(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, release: _Release) -> None:
        self._stream = stream
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._release()


class AsyncLane:
    """One call's own connection, for its long-held requests (asyncio).

    Args:
        tls: the client's TLS settings (shared, so the SSL context is built once).
    """

    def __init__(self, tls: LazyTLS) -> None:
        self.pools = _Pools(httpx.AsyncHTTPTransport, tls, LANE_LIMITS)

    @property
    def used(self) -> bool:
        """Whether a request has gone over this lane (it has a connection to reuse)."""
        return self.pools.used

    async def aclose(self) -> None:
        """Close the lane's connection."""
        for transport in self.pools.take_all():
            await transport.aclose()


class AsyncRouter(httpx.AsyncBaseTransport):
    """The transport of the SDK's own ``httpx.AsyncClient``: lane or shared pool.

    Args:
        tls: the client's TLS settings.
        limits: the shared pool's limits.
    """

    def __init__(self, tls: LazyTLS, limits: httpx.Limits) -> None:
        self._shared = _Pools(httpx.AsyncHTTPTransport, tls, limits)
        self._width = limits.max_connections
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send over the request's lane if it has one, else through the gate to the pool."""
        lane = request.extensions.get(LANE)
        if isinstance(lane, AsyncLane):
            return await lane.pools.get(request.url).handle_async_request(request)
        if self._width is None:
            return await self._shared.get(request.url).handle_async_request(request)
        gate = self._semaphore(self._width)
        if gate.locked():
            try:
                import asyncio  # not at module level: the sync client never needs it

                await asyncio.wait_for(gate.acquire(), _pool_timeout(request))
            except TimeoutError:
                raise httpx.PoolTimeout("no connection free in time", request=request) from None
        else:
            await gate.acquire()
        release = _Release(gate.release)
        try:
            response = await self._shared.get(request.url).handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncGatedStream(response.stream, release)
        return response

    def _semaphore(self, width: int) -> asyncio.Semaphore:
        import asyncio

        # one gate per event loop (a client may outlive an asyncio.run)
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate[0] is not loop:
            self._gate = (loop, asyncio.Semaphore(width))
        return self._gate[1]

    async def aclose(self) -> None:
        """Close the shared pool (lanes close with their calls)."""
        for transport in self._shared.take_all():
            await transport.aclose()


class Lane:
    """One call's own connection, for its long-held requests (threads).

    Args:
        tls: the client's TLS settings (shared, so the SSL context is built once).
    """

    def __init__(self, tls: LazyTLS) -> None:
        self.pools = _Pools(httpx.HTTPTransport, tls, LANE_LIMITS)

    @property
    def used(self) -> bool:
        """Whether a request has gone over this lane (it has a connection to reuse)."""
        return self.pools.used

    def close(self) -> None:
        """Close the lane's connection."""
        for transport in self.pools.take_all():
            transport.close()


class Router(httpx.BaseTransport):
    """The transport of the SDK's own ``httpx.Client``: lane or shared pool.

    Args:
        tls: the client's TLS settings.
        limits: the shared pool's limits.
    """

    def __init__(self, tls: LazyTLS, limits: httpx.Limits) -> None:
        self._shared = _Pools(httpx.HTTPTransport, tls, limits)
        width = limits.max_connections
        self._gate = None if width is None else threading.BoundedSemaphore(width)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send over the request's lane if it has one, else through the gate to the pool."""
        lane = request.extensions.get(LANE)
        if isinstance(lane, Lane):
            return lane.pools.get(request.url).handle_request(request)
        if self._gate is None:
            return self._shared.get(request.url).handle_request(request)
        pool = _pool_timeout(request)
        if not self._gate.acquire(timeout=pool):
            raise httpx.PoolTimeout("no connection free in time", request=request)
        release = _Release(self._gate.release)
        try:
            response = self._shared.get(request.url).handle_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _GatedStream(response.stream, release)
        return response

    def close(self) -> None:
        """Close the shared pool (lanes close with their calls)."""
        for transport in self._shared.take_all():
            transport.close()
