"""``jobctl.follow(response, client)``: follow an operation your own httpx client started.

For callers who already have an ``httpx.Response`` (from their own ``httpx.Client``
or ``AsyncClient``, with its own auth, proxies and hooks) and want jobctl to follow
the operation it started, in any dialect, without a ``JobsClient``. The client is
used as it is for every request to the initial request's origin; requests to any
other origin (a monitor, ``Location`` or result URL elsewhere) go without its
credentials: its ``auth``, its cookies and every default header it adds (an ``api-key``
is a credential too) are left off.
"""

from __future__ import annotations

from collections.abc import Awaitable
from urllib.parse import urlsplit, urlunsplit

import httpx

from .._core.context import Runtime
from .._core.deadline import Deadline
from .._core.dialects import Answer, detect
from .._core.flows.operation import answer_hint
from .._core.http import Reply
from .._core.operations import Operation, OperationResult

__all__ = ["follow"]

# Headers of the original request that are about its body or its connection, not the
# operation: everything else (auth, api keys, x-ms-client-request-id...) is sent again.
_NOT_CARRIED = frozenset(
    {
        "content-length",
        "content-type",
        "content-encoding",
        "host",
        "connection",
        "accept-encoding",
        "user-agent",
        "cookie",
        "transfer-encoding",
        "expect",
    }
)


def _operation(response: httpx.Response, dialect: str, final_state_via: str | None) -> Operation:
    request = response.request
    url = str(request.url)
    answer = Answer(response.status_code, response.headers, response.content, url)
    reply = Reply(response.status_code, response.headers, response.content, url, request.method)
    now = Runtime().wall()
    start = detect(request.method, url, answer, dialect=dialect, final_state_via=final_state_via)
    headers = tuple((k, v) for k, v in request.headers.items() if k.lower() not in _NOT_CARRIED)
    return Operation(
        start.dialect,
        request.method,
        url,
        start.monitor,
        start.location,
        start.final_via,
        start.api_version,
        status=start.first.status,
        progress=start.first.progress,
        headers=headers,
        first=start.first,
        sent=1,
        started=now,  # the first poll sits out the answer's Retry-After, as call()'s does
        hint=answer_hint(reply, now),
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "", "", ""))


def follow(
    response: httpx.Response,
    client: httpx.Client | httpx.AsyncClient,
    *,
    timeout: float | Deadline | None = None,
    dialect: str = "auto",
    final_state_via: str | None = None,
) -> OperationResult | Awaitable[OperationResult]:
    """Follow the operation ``response`` started, with the ``client`` that got it.

    Args:
        response: the initial response (its body is read if it was streamed).
        client: the ``httpx.Client`` (a result is returned) or ``httpx.AsyncClient``
            (an awaitable is returned) that sent the request.
        timeout: the overall deadline in seconds, or a ``Deadline``.
        dialect: ``auto`` or the dialect to follow it in.
        final_state_via: Azure's final-state rule.

    Returns:
        The ``OperationResult`` (or, with an ``AsyncClient``, an awaitable of it).

    Raises:
        InvalidArgumentError: an unknown dialect or rule.
        ProtocolError: the response can't be followed (a ``202`` naming nothing).
        APIError: the response is itself an error (4xx/5xx).
    """
    from .._core.http import error_from_reply

    if response.status_code >= 400:
        body = response.content if not response.is_stream_consumed or response.is_closed else b""
        raise error_from_reply(
            Reply(
                response.status_code,
                response.headers,
                body[:65536],
                str(response.request.url),
                response.request.method,
            )
        )
    if isinstance(client, httpx.AsyncClient):
        return _follow_async(response, client, timeout, dialect, final_state_via)
    response.read()
    op = _operation(response, dialect, final_state_via)
    from .sync import JobsClient

    with JobsClient(_origin(op.url), token=None, http_client=client) as jobs:
        return jobs.wait_operation(op, timeout=timeout)


async def _follow_async(
    response: httpx.Response,
    client: httpx.AsyncClient,
    timeout: float | Deadline | None,  # noqa: ASYNC109 - the SDK's deadline, passed on
    dialect: str,
    final_state_via: str | None,
) -> OperationResult:
    await response.aread()
    op = _operation(response, dialect, final_state_via)
    from .aio import AsyncJobsClient

    async with AsyncJobsClient(_origin(op.url), token=None, http_client=client) as jobs:
        result: OperationResult = await jobs.wait_operation(op, timeout=timeout)
        return result
