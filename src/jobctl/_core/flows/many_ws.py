"""Following many jobs over the WebSocket feed: ``wait_many(..., strategy="ws")``.

The same bookkeeping as the event stream (``many._Many``: what each job is known to
be, the ``Update`` and ``Ended`` emits, the one deadline); only the wire differs
(PROTOCOL.md, "Many jobs on one connection", ``GET /api/ws``):

- One connection, whatever the number of jobs. The jobs still running are
  subscribed ``SUBSCRIBE_BATCH`` ids per message, at most ``MAX_FOLLOWED`` followed
  at once (the reference server's limit per connection); more are subscribed as
  followed ones end. A subscribe the server refuses as a whole (a lower limit) is
  sent again once fewer jobs are followed, in smaller messages; refused with nothing
  followed and one id per message, it is a ``ProtocolError``.
- Each job opens with a snapshot (``status``, or ``complete`` with the whole job for
  one that has ended), then its live events, each fed to ``_Many.learn``. An event's
  ``id`` is its feed position; the highest is kept for resuming.
- An ``error`` naming a job (unknown, or another user's): the job is read once, as
  ``wait`` would read it (``NotFoundError``); one that is there after all is polled.
- A cut (the connection drops, or closes: ``1013`` for a client too slow to read, the
  ``sse-drop`` fault, a restart): reconnect, ``resume`` after the highest position,
  subscribe the jobs still running again (the server replays what it holds after it,
  else snapshots). Reconnects are paced by ``stream_drop``, refused upgrades (no
  answer, 429, 502-504) by ``stream_refused``, as for the event stream.
- No feed (404, 405, 426, any other answer than the upgrade): ``ProtocolError``; the
  caller chose the WebSocket. ``401``/``403`` raise as for any request.

Nothing here waits on a clock of its own: a read that times out with time left is
just read again (the socket's keepalive pings find a dead connection; the shell's
client library sends them), and one past the deadline ends in ``WaitTimeoutError``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

from ...errors import ProtocolError, ServiceUnavailableError
from ...models import Job
from ..context import Context
from ..deadline import Deadline
from ..effects import Flow, close, connect, receive, sleep, transmit
from ..http import SocketClosed, TransportFailure, error_from_reply, log
from ..refs import Target
from ..retry import RETRYABLE_STATUSES, Failure, decide
from .follow import job_event, refusal_of, wait_out_refusal
from .many import _Many, _streamable, many_flow

__all__ = ["MAX_FOLLOWED", "SUBSCRIBE_BATCH", "WS_PATH", "ManyStrategy", "ws_many_flow"]

ManyStrategy = Literal["auto", "sse", "poll", "ws"]
"""How ``wait_many`` / ``as_completed`` follow: ``Strategy``, or ``ws``, the WebSocket feed."""

WS_PATH = "/api/ws"
MAX_FOLLOWED = 10_000
"""Jobs followed at once on one connection (the reference server's ``MAX_JOBS``)."""
SUBSCRIBE_BATCH = 1_000
"""Job ids per ``subscribe`` message (about 40 KB of JSON with the reference's ids)."""
READ_WAIT = 30.0
"""The longest one read waits for a message before the flow looks at the deadline."""

_MISSING = frozenset({403, 404, 410})


def ws_many_flow(
    ctx: Context, targets: Sequence[Target], *, deadline: Deadline
) -> Flow[dict[str, Job]]:
    """Follow every job in ``targets`` to its end over ``GET /api/ws``, under one deadline.

    Jobs the feed can't name (a status URL off the API's ``/api/jobs/``) are polled.

    Args:
        ctx: the client context.
        targets: the jobs (duplicates are followed once).
        deadline: the overall deadline.

    Returns:
        The terminal job of each, by job id.

    Raises:
        ProtocolError: the server has no WebSocket feed, or it keeps dropping.
    """
    return many_flow(ctx, targets, deadline=deadline, strategy="poll", follow=_follow_ws)


class _Feed:
    """What outlives one connection: the position, the learnt limits, the drops."""

    def __init__(self, many: _Many) -> None:
        self.many = many
        self.position: int | None = None
        self.limit = MAX_FOLLOWED
        self.batch = SUBSCRIBE_BATCH
        self.polled: set[str] = set()  # the feed refused them: left to the polls
        self.drops = 0  # consecutive connections that ended without a new event

    def wanted(self) -> list[str]:
        """The jobs still running that the feed follows (in the order given)."""
        ctx = self.many.ctx
        return [
            jid
            for jid in self.many.open_ids()
            if jid not in self.polled and _streamable(ctx, self.many.states[jid].target)
        ]


def _follow_ws(many: _Many) -> Flow[None]:
    """Follow the streamable jobs over the WebSocket feed until they have all ended."""
    ctx = many.ctx
    feed = _Feed(many)
    while feed.wanted():
        req = ctx.request("GET", ctx.url(WS_PATH), read_timeout=READ_WAIT, deadline=many.deadline)
        sock = yield from _open(many, req)
        try:
            ended = yield from _Session(feed, sock).run()
        except (TransportFailure, ServiceUnavailableError) as exc:
            log.debug("the WebSocket feed: %s", exc)
            ended = None
        # (never a yield in a `finally`: a caller that stops iterating closes the flow,
        # and the shell closes what is still open)
        yield from close(sock)
        if not feed.wanted():
            return
        feed.drops += 1
        why = "closed" if ended is None else f"closed ({ended.code}{_reason(ended)})"
        decision = decide(
            ctx.retry.stream_drop,
            feed.drops,
            rand=ctx.runtime.rand(),
            left=many.remaining(),
            what=f"the WebSocket feed {why}",
        )
        if not decision.retry:
            raise ProtocolError(f"the WebSocket feed keeps dropping: {why}")
        log.debug("the WebSocket feed: %s", decision.reason)
        yield from sleep(decision.delay)


def _reason(closed: SocketClosed) -> str:
    return f": {closed.reason[:100]}" if closed.reason else ""


def _open(many: _Many, req: Any) -> Flow[Any]:
    """The open socket; transient refusals are retried (``stream_refused``), others raise."""
    ctx = many.ctx
    refusals = 0
    while True:
        refused_with: Exception
        try:
            reply = yield from connect(req)
        except TransportFailure as exc:
            if exc.kind == "other":
                raise
            failure, refused_with = Failure(kind=exc.kind), exc
        else:
            if reply.stream is not None:
                yield from many.reached()
                return reply.stream
            if reply.status not in RETRYABLE_STATUSES:
                yield from many.reached()
                if reply.status in (401, 403):
                    raise error_from_reply(reply)
                raise ProtocolError(
                    f"the server has no WebSocket feed: GET {WS_PATH} answered {reply.status} "
                    "instead of switching protocols (strategy='sse' follows the event stream)",
                    status_code=reply.status,
                    method="GET",
                    url=reply.url,
                )
            refusal = refusal_of(ctx, reply)
            assert refusal is not None  # a retryable status without a socket
            failure, refused_with = refusal
        refusals += 1
        left = many.remaining()
        if not (
            yield from wait_out_refusal(
                ctx, refusals, failure, left=left, unreachable=many.unreachable
            )
        ):
            raise refused_with


class _Session:
    """One connection: resume, subscribe in batches, read until every job ended or it closes."""

    def __init__(self, feed: _Feed, sock: Any) -> None:
        self.feed = feed
        self.many = feed.many
        self.sock = sock
        self.queue: deque[str] = deque(feed.wanted())  # to subscribe on this connection
        self.followed: set[str] = set()  # subscribed here, not ended
        self.sent: dict[int, list[str]] = {}  # a subscribe's ref -> its ids
        self.refs = 0

    def run(self) -> Flow[SocketClosed | None]:
        """Serve the connection: None once every job has ended, else how it closed."""
        feed, many = self.feed, self.many
        if feed.position is not None:
            yield from self._send({"op": "resume", "lastEventId": feed.position})
        yield from self._subscribe()
        while self.followed or self.queue:
            try:
                message = yield from receive(self.sock)
            except TransportFailure as exc:
                if exc.kind != "timeout":
                    raise
                many.remaining()  # past the deadline: WaitTimeoutError; else read on
                continue
            many.remaining()
            if isinstance(message, SocketClosed):
                return message
            yield from self._take(message)
        return None

    def _send(self, body: dict[str, Any]) -> Flow[None]:
        yield from transmit(self.sock, json.dumps(body, separators=(",", ":")))

    def _subscribe(self) -> Flow[None]:
        """Subscribe queued jobs while the connection follows fewer than the limit."""
        feed, many = self.feed, self.many
        while self.queue and len(self.followed) < feed.limit:
            room = min(feed.batch, feed.limit - len(self.followed))
            ids: list[str] = []
            while self.queue and len(ids) < room:
                jid = self.queue.popleft()
                if jid not in many.ended and jid not in feed.polled:
                    ids.append(jid)
            if not ids:
                continue
            self.refs += 1
            self.sent[self.refs] = ids
            self.followed.update(ids)
            yield from self._send({"op": "subscribe", "jobs": ids, "ref": self.refs})

    def _take(self, text: str) -> Flow[None]:
        """One message of the server: an event of a job, or an ``error``."""
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            log.debug("the WebSocket feed sent a message that is not JSON; ignored")
            return
        if not isinstance(body, dict):
            return
        name = body.get("event")
        if name == "error":
            yield from self._refused(body)
            yield from self._subscribe()
            return
        position = body.get("id")
        known = self.feed.position
        if isinstance(position, int) and not isinstance(position, bool):
            self.feed.position = position if known is None else max(known, position)
        if not isinstance(name, str):
            return
        event = job_event(name, None if position is None else str(position), body.get("data"), "ws")
        if event is None:
            log.debug("ignoring a WebSocket event with undecodable data (%s)", name)
            return
        self.feed.drops = 0
        yield from self.many.learn(event)
        jid = event.data.get("jobId")
        if name == "complete" and isinstance(jid, str):
            self.followed.discard(jid)  # the server stops following it too
            yield from self._subscribe()
        elif isinstance(jid, str) and jid in self.many.ended:
            self.followed.discard(jid)

    def _refused(self, body: dict[str, Any]) -> Flow[None]:
        """An ``error`` message: a job the server won't follow, or a refused subscribe."""
        feed, many = self.feed, self.many
        error = str(body.get("error", ""))[:300]
        jid, status, ref = body.get("jobId"), body.get("status"), body.get("ref")
        if isinstance(jid, str) and jid in many.states and status in _MISSING:
            self.followed.discard(jid)
            feed.polled.add(jid)
            yield from many.poll(jid)  # NotFoundError, as wait() has it; else polled on
            return
        ids = self.sent.pop(ref, None) if isinstance(ref, int) else None
        if ids is None:
            log.debug("the WebSocket feed refused a message: %s", error)
            return
        # the subscribe was refused as a whole: fewer per connection, or per message
        self.followed.difference_update(ids)
        self.queue.extendleft(reversed(ids))
        if self.followed:
            feed.limit = len(self.followed)
        elif feed.batch > 1:
            feed.batch = max(1, feed.batch // 10)
        else:
            raise ProtocolError(f"the WebSocket feed refused to follow job {ids[0]!r}: {error}")
