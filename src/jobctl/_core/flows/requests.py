"""Sending a request with the retry table's ``request`` and ``in_flight`` rows.

``request`` is the one transport-retry loop of the SDK: one ``Send`` (or
``Open``) effect per attempt, the decision from ``retry.decide``, the pause as a
``Sleep`` effect. ``send_checked`` raises the typed error of a non-2xx answer;
``send_keyed`` also rides out a ``409`` that says the first request with the same
``Idempotency-Key`` is still being processed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..context import Context
from ..effects import Flow, emit, open_once, send_once, sleep
from ..http import Reply, Request, TransportFailure, error_from_reply, log
from ..notices import ConnectionEvent
from ..retry import Failure, RetryDecision, classify, decide, parse_retry_after
from ..urls import safe_url

__all__ = ["request", "send_checked", "send_keyed"]


def _retry_after(ctx: Context, reply: Reply) -> float | None:
    return parse_retry_after(reply.headers.get("retry-after"), ctx.runtime.wall())


def request(
    ctx: Context,
    req: Request,
    *,
    stream: bool = False,
    renew: Callable[[Reply, Request], Request] | None = None,
) -> Flow[Reply]:
    """Send ``req``, retrying transient failures (the ``request`` row of the retry table).

    Returns the first answer that is not retried (which may be an error status:
    callers decide what an error means); raises the last ``TransportFailure``
    when no answer came and no retry is left.

    Args:
        ctx: the client context.
        req: the request; its ``deadline`` bounds the retries.
        stream: keep a 2xx body open (``Reply.stream``) instead of reading it.
        renew: called with an answer that is about to be retried and the request that
            got it; returns the request to send next (an operation keeps the cookies
            that answer set).
    """
    attempt = 0
    while True:
        failure: Failure
        error: TransportFailure | None = None
        try:
            reply = yield from (open_once(req) if stream else send_once(req))
        except TransportFailure as exc:
            error, failure = exc, Failure(kind=exc.kind)
        else:
            if reply.status < 400:
                if attempt:  # an answer after failures: the connection is back
                    yield from emit(ConnectionEvent(ok=True))
                return reply
            failure = Failure(status=reply.status, retry_after=_retry_after(ctx, reply))
        attempt += 1
        refused = classify(req.method, failure, keyed=req.idempotent_key, repeatable=req.repeatable)
        decision = (
            RetryDecision(False, 0.0, refused)
            if refused is not None
            else decide(
                ctx.retry.request,
                attempt,
                rand=ctx.runtime.rand(),
                retry_after=failure.retry_after,
                left=ctx.runtime.left(req.deadline),
                what=failure.describe(),
            )
        )
        log.debug("%s %s: %s", req.method, safe_url(req.url), decision.reason)
        if not decision.retry:
            if error is not None:
                raise error
            return reply
        if error is None and renew is not None:
            req = renew(reply, req)
        yield from emit(
            ConnectionEvent(
                ok=False,
                reason=failure.describe(),
                retry_in=decision.delay,
                deadline_left=ctx.runtime.left(req.deadline),
            )
        )
        yield from sleep(decision.delay)


def send_checked(ctx: Context, req: Request) -> Flow[Reply]:
    """``request``, raising the typed error for a non-2xx answer.

    Args:
        ctx: the client context.
        req: the request.
    """
    reply = yield from request(ctx, req)
    if not 200 <= reply.status < 300:
        raise error_from_reply(reply)
    return reply


_IN_FLIGHT = re.compile(r"idempot|in[ -]?flight|in progress|being processed", re.IGNORECASE)


def send_keyed(ctx: Context, req: Request, *, any_409_in_flight: bool) -> Flow[Reply]:
    """Send an ``Idempotency-Key`` request; a ``409`` "still in flight" is retried (``in_flight``).

    Args:
        ctx: the client context.
        req: the keyed request.
        any_409_in_flight: every 409 means "in flight" (submit); otherwise only a
            409 whose text says so (retry, where 409 also means "not retryable").
    """
    attempt = 0
    while True:
        reply = yield from request(ctx, req)
        if reply.status != 409:
            break
        text = reply.body[:4096].decode("utf-8", "replace")
        if not any_409_in_flight and not _IN_FLIGHT.search(text):
            break
        attempt += 1
        decision = decide(
            ctx.retry.in_flight,
            attempt,
            rand=ctx.runtime.rand(),
            retry_after=_retry_after(ctx, reply),
            left=ctx.runtime.left(req.deadline),
            what="409: the first request with this key is still in flight",
        )
        log.debug("%s %s: %s", req.method, safe_url(req.url), decision.reason)
        if not decision.retry:
            break
        yield from sleep(decision.delay)
    if not 200 <= reply.status < 300:
        raise error_from_reply(reply)
    return reply
