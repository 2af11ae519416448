"""Many jobs on one connection: ``GET /api/events`` (multiplexed SSE) and ``GET /api/ws``.

The SSE stream follows the named jobs (``job=``, repeatable) or, without ``job``,
every job of the caller including those submitted later (an admin's: everyone's),
filtered by ``type=`` and ``status=``. Its ids are the store's feed positions
(``feed.py``), so ``Last-Event-ID`` resumes it: the events after that position
that the store still holds, else a fresh snapshot of each job. A named stream
ends once every named job's ``complete`` was sent; an ``all`` stream stays open.

Any named job that is unknown or another user's makes the whole request ``404``,
with the same answer in both cases (no existence oracle). The WebSocket route
hands the connection to ``ws.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, WebSocket
from fastapi.responses import Response, StreamingResponse

from .deps import EngineDep, UserDep
from .feed import MAX_JOBS, Feed, Filters, Known, Message, Snapshot
from .jobaccess import base_url
from .problems import ProblemError, problem_responses
from .schemas import (
    CompleteEventData,
    ProgressBody,
    StatusEventData,
    StatusName,
    model_ref,
    sse_event,
)
from .sse import frame, resume_position, sse_response
from .views import job_viewer
from .ws import serve_websocket

__all__ = ["mux_stream", "router"]

router = APIRouter(prefix="/api", tags=["jobs"])

_WITH_JOB_ID = {
    "type": "object",
    "required": ["jobId"],
    "properties": {"jobId": {"type": "string"}},
}
_MUX_EVENTS = {
    "oneOf": [
        sse_event(
            name,
            {"allOf": [model_ref(model), _WITH_JOB_ID]},
            description,
        )
        for name, model, description in (
            ("status", StatusEventData, "A job's status (a snapshot when the stream opens)"),
            ("progress", ProgressBody, "A progress step of a job"),
            ("complete", CompleteEventData, "How a job ended, with its status body as `job`"),
        )
    ]
}
_MUX_TEXT = (
    "Server-Sent Events of many jobs: the per-job stream's `status`, `progress` and "
    "`complete` events, each `data` also carrying `jobId`. Ids increase across all the "
    "stream's jobs (Last-Event-ID resumes it). The stream starts with `retry: <ms>` and a "
    "snapshot of each job (`status`, or `complete` for a job that has ended); a stream of "
    "named jobs ends after the last one's `complete`, an `all` stream stays open. "
    "`: keepalive` comments come while nothing happens."
)
_HEADERS = {
    "Cache-Control": {"required": True, "schema": {"const": "no-cache"}},
    "X-Accel-Buffering": {"required": True, "schema": {"const": "no"}},
}


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": _MUX_TEXT,
            "content": {"text/event-stream": {"schema": _MUX_EVENTS}},
            "headers": _HEADERS,
        },
        204: {"description": "Last-Event-ID is at or after every named job's complete: stop"},
        **problem_responses(404),
    },
    summary="Follow many jobs' events on one stream (SSE)",
)
async def mux_events(
    request: Request,
    engine: EngineDep,
    user: UserDep,
    job: Annotated[
        list[str] | None,
        Query(max_length=MAX_JOBS, description="a job to follow (repeatable); none: all jobs"),
    ] = None,
    status: Annotated[list[StatusName] | None, Query(description="repeatable")] = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)] = None,
) -> Response:
    """Stream the events of the named jobs, or of all the caller's jobs (filtered).

    \f
    Args:
        request: the HTTP request (the ``sse-drop`` fault marks it).
        engine: the engine.
        user: the authenticated user.
        job: the jobs to follow; none: every job of the caller, new ones included.
        status: only events whose status is one of these.
        type: only jobs of this type.
        last_event_id: the Last-Event-ID header (a feed position).
    """
    filters = Filters(type, frozenset(str(s) for s in status or []))
    feed = Feed(engine, user, job_viewer(engine, base_url(request)))
    names = list(dict.fromkeys(job or []))
    records: list[Known] = []
    for name, record in zip(names, feed.known(names), strict=True):
        if record is None:
            raise ProblemError(404, f"no job with id {name!r}")
        records.append(record)
    resuming = feed.start(resume_position(engine.config, last_event_id))
    initial: list[Snapshot] = []
    if names:
        feed.filters = filters
        feed.follow(names)
        if resuming:  # jobs whose complete is at or before the position have ended here
            heads = engine.store.feed_heads(names)
            feed.unfollow(
                [r.id for r in records if r.terminal and heads.get(r.id, 0) <= feed.cursor]
            )
            if not feed.jobs:
                return Response(status_code=204)
        else:
            initial = feed.snapshots(records, filters, ids="heads")
    else:
        feed.follow_every(filters)
        if not resuming:
            initial = feed.snapshots(feed.live_jobs(filters), filters, ids="heads")
    stream = mux_stream(
        feed,
        initial,
        named=bool(names),
        retry_ms=engine.config.sse_retry_ms,
        keepalive=engine.config.keepalive,
        drop_after=getattr(request.state, "sse_drop_after", None),
    )
    return sse_response(stream)


async def mux_stream(
    feed: Feed,
    initial: list[Snapshot],
    *,
    named: bool,
    retry_ms: int,
    keepalive: float,
    drop_after: int | None = None,
) -> AsyncIterator[bytes]:
    """The bytes of one multiplexed SSE response; leaves the hub when it ends.

    Args:
        feed: the stream's feed (position set, jobs followed).
        initial: the snapshots to send first (each rendered as it is sent).
        named: a stream of named jobs (it ends when they have all ended).
        retry_ms: the ``retry:`` value sent first.
        keepalive: seconds between ``: keepalive`` comments.
        drop_after: end the stream after this many events (the ``sse-drop`` fault).
    """
    retry: int | None = retry_ms
    sent = 0

    def framed(message: Message) -> bytes:
        nonlocal retry, sent
        message = feed.finish(message)
        block = frame(message.id, message.event, message.json_data(), retry)
        retry = None
        sent += 1
        return block

    try:
        for snap in initial:
            message = feed.render(snap)
            if message is not None:
                if drop_after is not None and sent >= drop_after:
                    return
                yield framed(message)
        del initial
        while True:
            feed.sub.arm()
            messages = feed.pending()
            if retry is not None and not messages:
                yield f"retry: {retry}\n\n".encode()
                retry = None
            for message in messages:
                if drop_after is not None and sent >= drop_after:
                    return
                yield framed(message)
            if named and not feed.jobs:
                return
            if not messages and not await feed.sub.wait(keepalive):
                yield b": keepalive\n\n"
    finally:
        feed.close()


@router.websocket("/ws")
async def mux_websocket(websocket: WebSocket) -> None:
    """The multiplexed feed over a WebSocket (JSON messages both ways; see ``ws.py``).

    Args:
        websocket: the connection (authenticated by ``AuthMiddleware`` on the upgrade).
    """
    await serve_websocket(websocket)
