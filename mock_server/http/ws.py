"""The multiplexed feed over a WebSocket: ``GET /api/ws``, JSON text messages both ways.

Client messages (each may carry a ``ref``, echoed on the error it causes):

- ``{"op": "subscribe", "jobs": [ids]}`` or ``{"op": "subscribe", "all": true,
  "type"?: str, "status"?: [str]}``: a snapshot of each job (``status``, or
  ``complete`` for one that has ended), then its live events;
- ``{"op": "unsubscribe", "jobs": [ids]}`` or ``{"op": "unsubscribe", "all": true}``;
- ``{"op": "cancel", "jobId": id}``: as ``DELETE /api/jobs/{id}`` (the ``complete``
  event follows on the feed for a followed job); refused (``403``) on a connection
  opened with a ticket (``POST /api/ws-ticket``), which only reads;
- ``{"op": "resume", "lastEventId": N}``, before any subscribe: the subscribes that
  follow replay the held events after N instead of snapshots (a job with nothing
  after N still gets its snapshot).

Server messages: ``{"event": "status"|"progress"|"complete", "id", "jobId", "data"}``
(``id`` is the feed position, as on ``GET /api/events``) and ``{"event": "error",
"error", "status", "ref"?, "jobId"?}``. A refused message never closes the
connection. Three tasks run per connection: the reader (ops), the pump (the feed
after its position, when the hub wakes it) and the sender. They meet in a queue
bounded in bytes: when it stays full for ``--ws-send-timeout`` seconds the client
is too slow, and the connection is closed with 1013 (the client resumes). The
``sse-drop`` fault cuts the TCP connection after 1-3 events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from ..engine.runtime import Engine
from ..store.base import TERMINAL
from .deps import User
from .faults import abort_connection
from .feed import MAX_JOBS, Feed, Filters, Known, Message, Snapshot
from .jobaccess import cancel_visible
from .problems import ProblemError
from .views import job_viewer

__all__ = ["SEND_BUDGET", "TRY_AGAIN_LATER", "serve_websocket"]

TRY_AGAIN_LATER = 1013
"""The close code for a client too slow to read (RFC 6455 registry: Try Again Later)."""
SEND_BUDGET = 1 << 20
"""Bytes of messages one connection may have queued for sending."""
_STATUSES = frozenset(("pending", "processing", *TERMINAL))


class _Slow(Exception):
    """The client did not read for ``--ws-send-timeout`` seconds while the queue was full."""


class _Dropped(Exception):
    """The ``sse-drop`` fault: cut the connection."""


class _Refused(Exception):
    """A client message that gets an ``error`` answer."""

    def __init__(self, error: str, status: int = 400, job_id: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.job_id = job_id


class _Outbox:
    """Messages waiting to be sent, bounded by their total size (one always fits)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: deque[str] = deque()
        self._bytes = 0
        self._taken = asyncio.Event()
        self._added = asyncio.Event()

    async def put(self, text: str, stall: float) -> None:
        """Queue ``text``; raise ``_Slow`` when no room comes within ``stall`` seconds."""
        while self._items and self._bytes + len(text) > self.budget:
            self._taken.clear()
            try:
                await asyncio.wait_for(self._taken.wait(), stall)
            except TimeoutError:
                raise _Slow from None
        self._items.append(text)
        self._bytes += len(text)
        self._added.set()

    async def get(self) -> str:
        """The next message to send (waits for one)."""
        while not self._items:
            self._added.clear()
            await self._added.wait()
        text = self._items.popleft()
        self._bytes -= len(text)
        self._taken.set()
        return text


def _http_base(websocket: WebSocket) -> str:
    base = str(websocket.base_url).rstrip("/")
    return "http" + base[2:] if base.startswith("ws") else base


class Connection:
    """One WebSocket client: its feed, its ops and its bounded send queue.

    Args:
        websocket: the accepted connection.
        engine: the engine.
        user: the authenticated user.
    """

    def __init__(self, websocket: WebSocket, engine: Engine, user: User) -> None:
        self.websocket = websocket
        self.engine = engine
        self.user = user
        self.feed = Feed(engine, user, job_viewer(engine, _http_base(websocket)))
        self.feed.start(None)
        self.resumed = False
        self.outbox = _Outbox(SEND_BUDGET)
        self.lock = asyncio.Lock()
        self.stall = engine.config.ws_send_timeout
        self.drop_after: int | None = getattr(websocket.state, "sse_drop_after", None)
        self.read_only = bool(getattr(websocket.state, "ticket", False))  # a ticket only reads
        self.sent = 0

    async def run(self) -> None:
        """Serve until the client leaves, is too slow (1013) or the drop fault cuts it."""
        tasks = [
            asyncio.create_task(self._read(), name="ws-read"),
            asyncio.create_task(self._pump(), name="ws-pump"),
            asyncio.create_task(self._send(), name="ws-send"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.feed.close()
        ended = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
        if isinstance(ended, _Slow):
            await self._close(TRY_AGAIN_LATER, "too slow to read; reconnect and resume")
        elif isinstance(ended, _Dropped):
            await abort_connection(self.websocket.scope)
        elif ended is not None:
            raise ended

    async def _close(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self.websocket.close(code, reason), 2.0)
        except (TimeoutError, RuntimeError, OSError):  # the client reads nothing at all
            await abort_connection(self.websocket.scope)

    # ---- the three tasks --------------------------------------------------------------
    async def _send(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            while True:
                await self.websocket.send_text(await self.outbox.get())

    async def _pump(self) -> None:
        keepalive = self.engine.config.keepalive
        while True:
            self.feed.sub.arm()
            messages: list[Message] = []
            if self.feed.jobs or self.feed.every is not None:
                async with self.lock:
                    messages = self.feed.pending()
                    for message in messages:
                        await self._event(message)
            if not messages:
                await self.feed.sub.wait(keepalive)

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            ref: Any = None
            try:
                if text is None:
                    raise _Refused("send JSON text messages, not binary ones")
                try:
                    body = json.loads(text)
                except ValueError:
                    raise _Refused("the message is not JSON") from None
                if not isinstance(body, dict):
                    raise _Refused("a message is a JSON object with an op")
                ref = body.get("ref")
                await self._op(body)
            except _Refused as exc:
                await self._error(str(exc), exc.status, ref, exc.job_id)
            except ProblemError as exc:
                await self._error(str(exc.detail), exc.status_code, ref, None)

    # ---- ops --------------------------------------------------------------------------
    async def _op(self, body: dict[str, Any]) -> None:
        op = body.get("op")
        if op == "subscribe":
            await self._subscribe(body)
        elif op == "unsubscribe":
            if body.get("all") is True:
                self.feed.follow_every(None)
            else:
                self.feed.unfollow(_job_list(body, "jobs", MAX_JOBS))
        elif op == "cancel":
            job_id = body.get("jobId")
            if not isinstance(job_id, str) or not job_id:
                raise _Refused("cancel needs jobId, a string")
            if self.read_only:
                raise _Refused("a connection opened with a ticket is read-only", 403, job_id)
            cancel_visible(self.engine, self.user, job_id)
        elif op == "resume":
            await self._resume(body)
        else:
            known = "subscribe, unsubscribe, cancel, resume"
            raise _Refused(f"unknown op {str(op)[:50]!r}; the ops are {known}")

    async def _resume(self, body: dict[str, Any]) -> None:
        position = body.get("lastEventId")
        if isinstance(position, str) and position.isdigit() and len(position) <= 18:
            position = int(position)
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise _Refused("resume needs lastEventId, the id of the last event received")
        if self.feed.jobs or self.feed.every is not None:
            raise _Refused("resume comes before any subscribe on a connection")
        self.resumed = self.feed.start(position)
        if "jobs" in body or "all" in body:
            await self._subscribe(body)

    async def _subscribe(self, body: dict[str, Any]) -> None:
        if body.get("all") is True:
            filters = _filters(body)
            async with self.lock:
                if not self.resumed:
                    self.feed.catch_up()
                self.feed.follow_every(filters)
                if not self.resumed:
                    live = self.feed.live_jobs(filters)
                    await self._snapshots(self.feed.snapshots(live, filters, ids="cursor"))
            self.feed.sub.wake.set()
            return
        names = _job_list(body, "jobs", MAX_JOBS)
        if len(self.feed.jobs) + len(names) > MAX_JOBS:
            raise _Refused(f"a connection follows at most {MAX_JOBS} jobs")
        known: list[Known] = []
        for name, record in zip(names, self.feed.known(names), strict=True):
            if record is None:
                await self._error(f"no job with id {name!r}", 404, body.get("ref"), name)
            elif record.id not in self.feed.jobs:
                known.append(record)
        async with self.lock:
            if not self.resumed:
                self.feed.catch_up()
            self.feed.follow([r.id for r in known])
            await self._snapshots(self.feed.snapshots(known, self.feed.filters, ids="cursor"))
        self.feed.sub.wake.set()  # the pump reads what came after the position meanwhile

    # ---- output -----------------------------------------------------------------------
    async def _snapshots(self, snaps: list[Snapshot]) -> None:
        for snap in snaps:
            message = self.feed.render(snap)
            if message is not None:
                await self._event(message)

    async def _event(self, message: Message) -> None:
        if self.drop_after is not None and self.sent >= self.drop_after:
            raise _Dropped
        message = self.feed.finish(message)
        body = {"event": message.event, "id": message.id, "jobId": message.job_id}
        body["data"] = message.data
        await self.outbox.put(json.dumps(body, separators=(",", ":")), self.stall)
        self.sent += 1

    async def _error(self, error: str, status: int, ref: Any, job_id: str | None) -> None:
        body: dict[str, Any] = {"event": "error", "error": error, "status": status}
        if isinstance(ref, str | int) and not isinstance(ref, bool) and len(str(ref)) <= 200:
            body["ref"] = ref
        if job_id is not None:
            body["jobId"] = job_id
        await self.outbox.put(json.dumps(body, separators=(",", ":")), self.stall)


def _job_list(body: dict[str, Any], key: str, limit: int) -> list[str]:
    value = body.get(key)
    if not isinstance(value, list):
        raise _Refused(f'{key} must be a list of job ids (or give "all": true)')
    if len(value) > limit:
        raise _Refused(f"{key} names {len(value)} jobs; at most {limit} per connection")
    if not all(isinstance(v, str) and 0 < len(v) <= 100 for v in value):
        raise _Refused(f"{key} must hold job ids: strings of 1 to 100 characters")
    return list(dict.fromkeys(value))


def _filters(body: dict[str, Any]) -> Filters:
    job_type = body.get("type")
    if job_type is not None and (not isinstance(job_type, str) or len(job_type) > 100):
        raise _Refused("type must be a job type name")
    statuses = body.get("status", [])
    if not isinstance(statuses, list) or not all(s in _STATUSES for s in statuses):
        raise _Refused(f"status must be a list of {', '.join(sorted(_STATUSES))}")
    return Filters(job_type, frozenset(statuses))


async def serve_websocket(websocket: WebSocket) -> None:
    """Accept the (authenticated) upgrade and serve the connection.

    Args:
        websocket: the connection; ``AuthMiddleware`` put the user in its state.
    """
    engine: Engine = websocket.app.state.server.engine
    user = User(str(websocket.state.user), bool(websocket.state.admin))
    await websocket.accept()
    await Connection(websocket, engine, user).run()
