"""Where the SDK's own HTTP client sends a request: the shared pool, or a follow's lane.

An event stream or a long poll holds its connection for seconds or minutes. In one
shared httpcore pool, a thousand of them queue behind the connection limit, and the
pool's bookkeeping (which walks every connection for every queued request on each
request start and end) spins at full CPU; queued long polls also wait seconds before
they are sent (encode/httpcore#822). So the SDK's own client gets a routing
transport: a request tagged with a ``Lane`` (one per ``wait``/``events``/``download``
call, see ``aio.py``) goes over that lane's own connection, closed when the call
ends; every other request (submit, get, cancel, list) uses the shared pool, which
then only ever holds short requests.

TLS costs nothing until it is needed: the SSL context (about 20–60 ms to load the
CA store) is built on the first ``https`` request and shared by the pool and every
lane. A client given by the caller (``http_client=``) is used as it is, lanes and
all: its transport, proxies and hooks are the caller's to choose.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import httpx

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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send over the request's lane if it has one, else over the shared pool."""
        lane = request.extensions.get(LANE)
        pools = lane.pools if isinstance(lane, AsyncLane) else self._shared
        return await pools.get(request.url).handle_async_request(request)

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

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send over the request's lane if it has one, else over the shared pool."""
        lane = request.extensions.get(LANE)
        pools = lane.pools if isinstance(lane, Lane) else self._shared
        return pools.get(request.url).handle_request(request)

    def close(self) -> None:
        """Close the shared pool (lanes close with their calls)."""
        for transport in self._shared.take_all():
            transport.close()
