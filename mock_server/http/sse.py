"""Server-Sent Events of one job: framing, the ``status`` snapshot, replay and live events.

The stored event log is the source of the events, so ``Last-Event-ID`` replay
works across restarts and across processes; the engine's ``EventHub`` says when
to look again. A client whose ``Last-Event-ID`` is older than what the store
still holds gets a fresh snapshot instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse

from ..config import ServerConfig
from ..engine.hub import EventHub
from ..store.base import JobRecord, JobStore

__all__ = [
    "event_stream",
    "frame",
    "parse_last_event_id",
    "resume_position",
    "snapshot_data",
    "sse_response",
]


def frame(event_id: int, event: str, data: str, retry_ms: int | None = None) -> bytes:
    """One SSE block.

    Args:
        event_id: the ``id:`` field.
        event: the ``event:`` field.
        data: one-line JSON.
        retry_ms: a ``retry:`` line to put first, if any.
    """
    head = f"retry: {retry_ms}\n" if retry_ms is not None else ""
    return f"{head}id: {event_id}\nevent: {event}\ndata: {data}\n\n".encode()


def snapshot_data(job: JobRecord) -> dict[str, Any]:
    """The ``status`` event's data for the job's current state.

    Args:
        job: the job.
    """
    data: dict[str, Any] = {"status": job.status}
    if job.progress_total is not None:
        progress: dict[str, Any] = {
            "current": job.progress_current or 0,
            "total": job.progress_total,
        }
        if job.progress_message:
            progress["message"] = job.progress_message
        data["progress"] = progress
    return data


def _with_job(
    data: str,
    job: JobRecord | None,
    job_view: Callable[[JobRecord], dict[str, Any]] | None,
) -> str:
    """The stored ``complete`` data with the job's status body added as ``job``."""
    if job is None or job_view is None:
        return data
    return json.dumps({**json.loads(data), "job": job_view(job)}, separators=(",", ":"))


def sse_response(stream: AsyncIterator[bytes]) -> StreamingResponse:
    """The ``200 text/event-stream`` answer of an event stream (never cached nor buffered).

    Args:
        stream: the stream's bytes.
    """
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def parse_last_event_id(value: str | None) -> int | None:
    """The Last-Event-ID as an int, or None when absent or not ours.

    Args:
        value: the header value.
    """
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def resume_position(config: ServerConfig, value: str | None) -> int | None:
    """Where an event stream resumes: after its ``Last-Event-ID`` (None: from the start).

    Args:
        config: settings (``--misbehave sse-no-resume`` ignores the header).
        value: the Last-Event-ID header.
    """
    return None if config.misbehave.sse_no_resume else parse_last_event_id(value)


async def event_stream(
    *,
    store: JobStore,
    hub: EventHub,
    job_id: str,
    last_event_id: int | None,
    retry_ms: int,
    keepalive: float,
    drop_after: int | None = None,
    on_drop: Callable[[], None] | None = None,
    job_view: Callable[[JobRecord], dict[str, Any]] | None = None,
) -> AsyncIterator[bytes]:
    """The bytes of one SSE response for a job.

    Args:
        store: the database.
        hub: change notifications.
        job_id: the job.
        last_event_id: the client's Last-Event-ID when it is one of ours.
        retry_ms: the ``retry:`` value sent first.
        keepalive: seconds between ``: keepalive`` comments.
        drop_after: end the stream (without ``complete``) after this many events (fault).
        on_drop: called when the stream is dropped on purpose.
        job_view: the job's status body as ``GET /api/jobs/{id}`` answers it; the
            ``complete`` event carries it as ``job`` (PROTOCOL.md), so a client can end
            without another request.
    """
    last = store.last_event_id(job_id)  # before the job: the snapshot is never older than it
    job = store.get_job(job_id)
    if job is None:
        return
    retry: int | None = retry_ms
    sent = 0
    cursor: int
    resume = last_event_id is not None and last_event_id <= last
    if resume and last_event_id is not None and last_event_id < last:
        held = store.events_after(job_id, last_event_id)
        resume = bool(held) and held[0][0] == last_event_id + 1  # else trimmed: too old
    if resume and last_event_id is not None:
        cursor = last_event_id
    else:
        complete_id = store.complete_event_id(job_id)
        snap_id = complete_id - 1 if complete_id is not None else last
        yield frame(snap_id, "status", json.dumps(snapshot_data(job), separators=(",", ":")), retry)
        retry = None
        sent += 1
        cursor = snap_id
    while True:
        wake = hub.watch(job_id)
        pending = store.events_after(job_id, cursor)
        if retry is not None and not pending:
            yield f"retry: {retry}\n\n".encode()
            retry = None
        for event_id, event, data in pending:
            if drop_after is not None and sent >= drop_after:
                if on_drop is not None:
                    on_drop()
                return
            if event == "complete":
                data = _with_job(data, store.get_job(job_id), job_view)
            yield frame(event_id, event, data, retry)
            retry = None
            sent += 1
            cursor = event_id
            if event == "complete":
                return
        if store.get_job(job_id) is None:
            return
        if not await hub.wait(job_id, wake, keepalive):
            yield b": keepalive\n\n"
