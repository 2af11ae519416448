"""The job flows: submit, get, cancel, retry, list — each a generator of effects.

Every decision of these operations is made here, once, for both clients:
``Idempotency-Key`` generation (one key for every retry of a call), ``422`` as a
clear ``ConflictError``, a ``303`` from a status URL read as "completed",
relative URLs resolved against the API base URL. Retries are ``requests.py``'s;
waiting and events live in ``follow.py``, downloads in ``download.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ...errors import (
    APIError,
    ConflictError,
    InvalidArgumentError,
    JobctlError,
    ProtocolError,
    ServiceUnavailableError,
)
from ...models import Job, JobPage
from ..context import Context
from ..deadline import NO_DEADLINE, Deadline
from ..effects import Flow, emit
from ..http import Reply, error_from_reply, parse_job, parse_json, parse_page
from ..polling import completed_from_redirect, new_idempotency_key
from ..refs import Target
from ..urls import safe_url
from .requests import request, send_checked, send_keyed

__all__ = [
    "anchored",
    "cancel_flow",
    "events_ticket_flow",
    "get_flow",
    "iter_jobs_flow",
    "list_flow",
    "not_completed",
    "retry_flow",
    "submit_flow",
]


def _keyed(exc: JobctlError, key: str, call: str) -> None:
    """``exc`` carrying the key the call sent; when the server may have stored the job,
    its message says how to get it back without making a second one."""
    exc.idempotency_key = key
    maybe_stored = isinstance(exc, ServiceUnavailableError | ProtocolError) or (
        isinstance(exc, APIError) and exc.status_code == 409
    )
    if maybe_stored and isinstance(exc, APIError) and exc.resume_hint is None:
        exc.resume_hint = (
            f"the server may have stored the job: {call} again with "
            f"idempotency_key={key!r} to get it instead of a second one"
        )
        exc.message += "; " + exc.resume_hint
        exc.args = (exc.message,)


_VISIBLE = re.compile(r"[\x21-\x7e]{1,255}")


def _key(idempotency_key: str | None) -> str:
    """The caller's key, checked against the protocol's syntax, or a fresh UUID4."""
    if idempotency_key is None:
        return new_idempotency_key()
    if not isinstance(idempotency_key, str) or not _VISIBLE.fullmatch(idempotency_key):
        raise InvalidArgumentError("idempotency_key must be 1 to 255 visible ASCII characters")
    return idempotency_key


def _job_from_accept(ctx: Context, reply: Reply, **extra: Any) -> Job:
    replayed = reply.status == 200 or reply.headers.get("idempotent-replayed", "") == "true"
    job = parse_job(reply, replayed=replayed, **extra)
    if job.status_url is None:
        location = reply.headers.get("location")
        url = ctx.resolve(location) if location else ctx.url("/api/jobs/" + quote(job.job_id))
        job = job.model_copy(update={"status_url": url})
    return job


def submit_flow(
    ctx: Context,
    type: str,
    input: Any = None,
    *,
    idempotency_key: str | None = None,
    webhook: str | Mapping[str, Any] | None = None,
    priority: int | None = None,
    correlation_id: str | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Flow[Job]:
    """Submit a job: ``POST /api/jobs`` with an ``Idempotency-Key`` reused by every retry.

    Args:
        ctx: the client context.
        type: the job type.
        input: the job input (a JSON object; None sends ``{}``).
        idempotency_key: the key; a UUID4 is generated when None.
        webhook: a callback URL, or ``{"url", "secret"?, "events"?}``.
        priority: the job priority.
        correlation_id: sent as ``X-Correlation-Id``.
        deadline: bounds the submit and all its retries.
    """
    if not isinstance(type, str) or not type:
        raise InvalidArgumentError("the job type must be a non-empty string")
    key = _key(idempotency_key)
    body: dict[str, Any] = {"type": type, "input": {} if input is None else input}
    if webhook is not None:
        body["webhook"] = {"url": webhook} if isinstance(webhook, str) else dict(webhook)
    if priority is not None:
        body["priority"] = priority
    headers = {"Idempotency-Key": key}
    if correlation_id:
        if not _VISIBLE.fullmatch(correlation_id):
            raise InvalidArgumentError("correlation_id must be 1 to 255 visible ASCII characters")
        headers["X-Correlation-Id"] = correlation_id
    req = ctx.request(
        "POST",
        ctx.url("/api/jobs"),
        headers=headers,
        json=body,
        idempotent_key=True,
        deadline=deadline,
    )
    try:
        reply = yield from send_keyed(ctx, req, any_409_in_flight=True)
        return _job_from_accept(ctx, reply, type=type, idempotency_key=key)
    except JobctlError as exc:
        _keyed(exc, key, "submit")
        raise


def get_flow(
    ctx: Context,
    target: Target,
    *,
    headers: Mapping[str, str] | None = None,
    read_timeout: float | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Flow[tuple[Job, Reply]]:
    """Read a job's status; a ``303 See Other`` means completed (not followed).

    Args:
        ctx: the client context.
        target: the job.
        headers: extra headers (``Prefer: wait=N`` for a long poll).
        read_timeout: the read timeout for a long poll.
        deadline: the wait's deadline, bounding retries and timeouts.
    """
    req = ctx.request(
        "GET",
        target.status_url,
        headers=headers or {},
        read_timeout=read_timeout,
        deadline=deadline,
    )
    reply = yield from request(ctx, req)
    if reply.status == 303:
        location = reply.headers.get("location")
        if not location:
            raise ProtocolError(f"303 from {target.status_url} without a Location")
        return completed_from_redirect(
            target.job_id, target.status_url, ctx.resolve(location)
        ), reply
    if not 200 <= reply.status < 300:
        raise error_from_reply(reply)
    known_type = target.job.type if target.job else None
    return anchored(ctx, target, parse_job(reply, type=known_type)), reply


def anchored(ctx: Context, target: Target, job: Job) -> Job:
    """A job document from the server with its URLs made safe to use: its status URL
    only when on the API's origin (else the target's), its result URL absolute.

    Args:
        ctx: the client context.
        target: the job as the caller named it.
        job: the document as the server sent it.
    """
    if job.status_url is None or not ctx.auth(ctx.resolve(job.status_url)):
        job = job.model_copy(update={"status_url": target.status_url})
    if job.type is None and target.job is not None and target.job.type:
        job = job.model_copy(update={"type": target.job.type})
    if job.result_url:
        job = job.model_copy(update={"result_url": ctx.resolve(job.result_url)})
    return job


def cancel_flow(ctx: Context, target: Target) -> Flow[Job]:
    """Cancel a job: ``DELETE`` its status URL.

    Args:
        ctx: the client context.
        target: the job.
    """
    reply = yield from send_checked(ctx, ctx.request("DELETE", target.status_url))
    return parse_job(reply, status_url=target.status_url)


def retry_flow(
    ctx: Context,
    target: Target,
    *,
    idempotency_key: str | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Flow[Job]:
    """Retry a failed, retryable job: ``POST .../retry``; returns the new job.

    Args:
        ctx: the client context.
        target: the failed job.
        idempotency_key: the key; a UUID4 is generated when None.
        deadline: bounds the request and all its retries.
    """
    url = target.status_url.rstrip("/") + "/retry"
    if target.job and target.job.retry_url and ctx.auth(ctx.resolve(target.job.retry_url)):
        url = ctx.resolve(target.job.retry_url)
    key = _key(idempotency_key)
    req = ctx.request(
        "POST",
        url,
        headers={"Idempotency-Key": key},
        json=None,
        idempotent_key=True,
        deadline=deadline,
    )
    try:
        reply = yield from send_keyed(ctx, req, any_409_in_flight=False)
        known_type = target.job.type if target.job else None
        return _job_from_accept(
            ctx, reply, type=known_type, idempotency_key=key, original_job_id=target.job_id
        )
    except JobctlError as exc:
        _keyed(exc, key, "retry")
        raise


def _list_params(
    status: str | Sequence[str] | None, type: str | None, limit: int, offset: int
) -> list[tuple[str, str | int]]:
    if not 1 <= limit <= 100:
        raise InvalidArgumentError("limit must be between 1 and 100")
    if offset < 0:
        raise InvalidArgumentError("offset must be >= 0")
    params: list[tuple[str, str | int]] = []
    statuses = [status] if isinstance(status, str) else list(status or [])
    params += [("status", str(s)) for s in statuses]
    if type:
        params.append(("type", type))
    params += [("limit", limit), ("offset", offset)]
    return params


def list_flow(
    ctx: Context,
    *,
    status: str | Sequence[str] | None = None,
    type: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> Flow[JobPage]:
    """One page of ``GET /api/jobs`` (newest first).

    Args:
        ctx: the client context.
        status: one status or several to filter on.
        type: a job type to filter on.
        limit: page size, 1..100.
        offset: how many matching jobs to skip.
    """
    params = _list_params(status, type, limit, offset)
    req = ctx.request("GET", ctx.url("/api/jobs"), params=params)
    reply = yield from send_checked(ctx, req)
    return parse_page(reply)


def iter_jobs_flow(
    ctx: Context,
    *,
    status: str | Sequence[str] | None = None,
    type: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> Flow[None]:
    """Every matching job, page after page: each job is ``Emit``-ted.

    Args:
        ctx: the client context.
        status: one status or several to filter on.
        type: a job type to filter on.
        limit: page size, 1..100.
        offset: where to start.
    """
    next_offset: int | None = offset
    seen: set[str] = set()  # jobs submitted meanwhile shift older ones onto the next page
    while next_offset is not None:
        page = yield from list_flow(ctx, status=status, type=type, limit=limit, offset=next_offset)
        for job in page.jobs:
            if job.job_id not in seen:
                seen.add(job.job_id)
                yield from emit(job)
        if page.next_offset is not None and page.next_offset <= next_offset:
            raise ProtocolError(f"job list paging does not advance (nextOffset {page.next_offset})")
        next_offset = page.next_offset if page.jobs else None


def not_completed(job: Job) -> ConflictError:
    """The error for asking the result of a job that has none (yet).

    Args:
        job: the job.
    """
    return ConflictError(f"job {job.job_id} is {job.status}, not completed: it has no result")


def events_ticket_flow(
    ctx: Context,
    target: Target | None,
    job_ids: Sequence[str] = (),
    *,
    status: str | Sequence[str] | None = None,
    type: str | None = None,
) -> Flow[str]:
    """A ticketed events URL for a browser's ``EventSource`` (PROTOCOL.md, "Tickets").

    ``POST {status URL}/events-ticket`` for one job, else ``POST /api/events-ticket``
    with the multiplexed stream's query (``job=`` each of ``job_ids``, or none for
    every job, ``type=``, ``status=``). The request has no side effect, so it is
    retried like a read.

    Args:
        ctx: the client context.
        target: the one job, or None for the multiplexed stream.
        job_ids: the jobs of the multiplexed stream (empty: every job of the caller).
        status: only events whose status is one of these (multiplexed only).
        type: only jobs of this type (multiplexed only).

    Returns:
        The absolute URL, ``?ticket=`` included: open it within 60 s.
    """
    statuses = [status] if isinstance(status, str) else list(status or [])
    if target is not None:
        if statuses or type:
            raise InvalidArgumentError("status= and type= filter the multiplexed stream only")
        url = target.status_url.rstrip("/") + "/events-ticket"
        params: list[tuple[str, str]] = []
    else:
        url = ctx.url("/api/events-ticket")
        params = [("job", j) for j in job_ids] + [("status", str(s)) for s in statuses]
        if type:
            params.append(("type", type))
    req = ctx.request("POST", url, params=params or None, repeatable=True)
    reply = yield from send_checked(ctx, req)
    data = parse_json(reply)
    found = data.get("url") if isinstance(data, dict) else None
    if not isinstance(found, str) or not found:
        raise ProtocolError(f"POST {safe_url(url)}: the answer has no ticket url")
    return ctx.resolve(found)
