"""Following many jobs at once: one multiplexed stream, whatever the number of jobs.

``many_flow`` is shared by ``wait_many``, ``as_completed`` and the CLI's
``wait A B C`` / ``events A B C``. It ``Emit``s an ``Update`` for every event of a
followed job (its ``event.job_id`` says which, ``event.job`` is the merged
snapshot) and an ``Ended`` when one reaches its end, and returns the terminal
``Job`` of each.

How it follows (PROTOCOL.md, "Many jobs on one connection"):

- The jobs' ids fit in one URL (``URL_BUDGET`` bytes of ``job=`` query, so that
  proxies' and servers' header limits pass it): one named stream,
  ``GET /api/events?job=A&job=B...``. It opens with a snapshot of each job (a
  ``complete`` for one that has ended) and ends when all have ended. A cut
  stream is resumed with ``Last-Event-ID``, naming only the jobs still running.
- They don't: the caller's ``all`` stream (``GET /api/events``, no ``job``),
  filtered here, is opened first; then the jobs' current states are learnt by
  short named *probes* of up to ``URL_BUDGET`` each, closed as soon as they have
  sent their opening snapshots (the ``all`` stream snapshots only live jobs, so
  a job that ended before it opened would never be heard of). After a cut of
  the ``all`` stream, what is still running is probed again (the gap may have
  lost events the server no longer holds). Two connections at most, one of them
  briefly. Once the jobs still running fit one URL, a reconnect names them.
- The server has no such stream (404, 405, 406, 501, another content type, a
  proxy that buffers): the jobs are polled in turns, paced by ``PollPolicy`` and
  the server's hints. A job given by a status URL off the API's own ``/api/jobs/``
  is polled too (no stream of the API can name it).

One deadline bounds everything; when it passes, ``WaitTimeoutError`` carries the
last snapshot of each unfinished job (``.jobs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

from ...errors import ProtocolError, ServiceUnavailableError
from ...models import Job, JobEvent, WaitTimeoutError
from ..context import Context
from ..deadline import Deadline
from ..effects import Flow, close, emit, open_once, read, sleep
from ..http import Reply, TransportFailure, error_from_reply, log
from ..notices import ConnectionEvent
from ..polling import event_from_job, next_delay
from ..refs import Target
from ..retry import Failure, decide, extract_hints
from ..sse import SSEDecodeError, SSEDecoder, SSEReconnectState
from .follow import (
    SSE_STALL_TIMEOUT,
    Strategy,
    _State,
    event_from_sse,
    refusal_of,
    wait_out_drop,
    wait_out_refusal,
)
from .jobs import get_flow

__all__ = ["URL_BUDGET", "Ended", "many_flow", "watch_flow"]

URL_BUDGET = 6000
"""Bytes of ``job=...`` query in one stream's URL. Servers and proxies bound a request's
head (nginx 8 KiB a line by default, h11 16 KiB in all); 6,000 leaves room for the rest."""

_FALLBACK_STATUSES = frozenset({400, 404, 405, 406, 410, 414, 415, 431, 501})


@dataclass(frozen=True)
class Ended:
    """A followed job has reached its end (``as_completed`` yields ``job``).

    Args:
        job: the terminal job.
    """

    job: Job


class _Many:
    """What is known of every followed job, and the one deadline."""

    def __init__(self, ctx: Context, targets: Sequence[Target], deadline: Deadline) -> None:
        self.ctx = ctx
        self.deadline = deadline
        self.states: dict[str, _State] = {}
        for target in targets:
            self.states.setdefault(target.job_id, _State(ctx, target, deadline))
        self.ended: dict[str, Job] = {}
        self.down = False
        # Whether the stream can name a job never changes: judged once, not per chunk.
        self.streamable = frozenset(
            jid for jid, st in self.states.items() if _streamable(ctx, st.target)
        )
        self.streaming = len(self.streamable)
        """Streamable jobs not ended yet (kept by ``finish``)."""

    def open_ids(self) -> list[str]:
        """The jobs still running, in the order given."""
        return [jid for jid in self.states if jid not in self.ended]

    def open_streamable(self) -> list[str]:
        """The jobs still running that the multiplexed stream can name, in the order given."""
        return [jid for jid in self.open_ids() if jid in self.streamable]

    def remaining(self) -> float | None:
        """Seconds left; raises ``WaitTimeoutError`` once the deadline has passed."""
        left = self.ctx.runtime.left(self.deadline)
        if left is not None and left <= 0:
            raise self.timed_out()
        return left

    def timed_out(self) -> WaitTimeoutError:
        """The error for a deadline that passed with jobs still running."""
        pending = [self.states[jid] for jid in self.open_ids()]
        snapshots = [st.last for st in pending if st.last is not None]
        first = snapshots[0] if snapshots else None
        return WaitTimeoutError(first, self.deadline.seconds or 0.0, jobs=snapshots)

    def finish(self, job: Job) -> Flow[None]:
        """Record a job's end and say so."""
        if job.job_id in self.ended:
            return
        self.ended[job.job_id] = job
        if job.job_id in self.streamable:
            self.streaming -= 1
        yield from emit(Ended(job))

    def learn(self, event: JobEvent) -> Flow[None]:
        """Take one event of the multiplexed stream (others' jobs are not ours: ignored)."""
        jid = event.data.get("jobId")
        if not isinstance(jid, str) or jid not in self.states or jid in self.ended:
            return
        st = self.states[jid]
        job = st.merge(event)
        yield from st.update(event.model_copy(update={"job_id": jid, "job": job}), job)
        if event.event != "complete":
            return
        if event.job is not None and job.is_terminal:
            yield from self.finish(job)  # `complete` carried the whole job: no round trip
            return
        job, _ = yield from get_flow(self.ctx, st.target, deadline=self.deadline)
        if job.is_terminal:
            yield from self.finish(job)

    def poll(self, jid: str) -> Flow[Reply]:
        """Read one job's status once (with the request's own retries)."""
        st = self.states[jid]
        job, reply = yield from get_flow(self.ctx, st.target, deadline=self.deadline)
        event = event_from_job(job, st.last if st.key is not None else None)
        if event is not None:
            yield from st.update(event.model_copy(update={"job_id": jid}), job)
        if job.is_terminal:
            yield from self.finish(job)
        return reply

    def unreachable(self, reason: str, retry_in: float) -> Flow[None]:
        """The server can't be reached for now (one notice, not one per job)."""
        self.down = True
        left = self.ctx.runtime.left(self.deadline)
        yield from emit(ConnectionEvent(False, reason, retry_in, left))

    def reached(self) -> Flow[None]:
        """An answer came: if the server was unreachable, say it is back."""
        if self.down:
            self.down = False
            yield from emit(ConnectionEvent(ok=True))


def many_flow(
    ctx: Context,
    targets: Sequence[Target],
    *,
    deadline: Deadline,
    strategy: Strategy = "auto",
    follow: Callable[[_Many], Flow[None]] | None = None,
) -> Flow[dict[str, Job]]:
    """Follow every job in ``targets`` to its end under one deadline.

    Args:
        ctx: the client context.
        targets: the jobs (duplicates are followed once).
        deadline: the overall deadline.
        strategy: ``auto`` (the multiplexed stream, falling back to polls), ``sse``
            (the stream only: ``ProtocolError`` without one) or ``poll``.
        follow: follows the streamable jobs instead of the event stream (the
            WebSocket feed, ``many_ws``); what it leaves running is polled.

    Returns:
        The terminal job of each, by job id.
    """
    many = _Many(ctx, targets, deadline)
    for st in many.states.values():
        if st.last is not None and st.last.is_terminal:
            yield from many.finish(st.last)
    if not many.open_ids():
        return many.ended
    try:
        if deadline.passed(ctx.runtime.clock()):
            raise many.timed_out()  # "tell me now": judged after one look, below
        if follow is not None and many.streaming:
            yield from follow(many)
        elif strategy != "poll" and many.streaming:
            yield from _follow_streams(many, strict=strategy == "sse")
        yield from _poll_in_turns(many)
    except WaitTimeoutError:
        if any(st.observed for st in many.states.values()):
            raise
        for jid in many.open_ids():  # a deadline is judged only after looking once
            yield from many.poll(jid)
        if many.open_ids():
            raise many.timed_out() from None
    return many.ended


def _streamable(ctx: Context, target: Target) -> bool:
    """Whether the API's multiplexed stream can name this job (its own status URL)."""
    return target.status_url == ctx.url("/api/jobs/" + quote(target.job_id, safe=""))


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    """``ids`` cut into runs whose ``job=`` query fits ``URL_BUDGET``."""
    out: list[list[str]] = []
    size = 0
    for jid in ids:
        cost = len("job=") + len(quote(jid, safe="")) + 1
        if not out or size + cost > URL_BUDGET:
            out.append([])
            size = 0
        out[-1].append(jid)
        size += cost
    return out


def _events_url(ctx: Context, ids: Sequence[str]) -> str:
    base = ctx.url("/api/events")
    return base + "?" + urlencode([("job", jid) for jid in ids]) if ids else base


def _follow_streams(many: _Many, *, strict: bool) -> Flow[None]:
    """Follow the streamable jobs over the multiplexed stream; return to poll the rest."""
    ctx = many.ctx
    recon = SSEReconnectState()
    probe = True  # the `all` stream's jobs still need their states learnt
    seen_event = False

    def give_up(why: str) -> None:
        if strict:
            raise ProtocolError(f"the multiplexed event stream is unavailable: {why}")
        log.debug("multiplexed events: %s; polling the jobs instead", why)

    while True:
        ids = many.open_streamable()
        if not ids:
            return
        named = len(_chunks(ids)) == 1
        stall = _stall(many.remaining())
        req = ctx.request(
            "GET",
            _events_url(ctx, ids if named else ()),
            headers=recon.request_headers(),
            read_timeout=stall,
        )
        reply = yield from _connect(many, req, strict=strict)
        if isinstance(reply, str):
            return give_up(reply)
        if reply.status == 204:  # every named job ended at or before our position
            if reply.stream is not None:
                yield from close(reply.stream)
            return  # the polls read their ends
        assert reply.stream is not None
        recon.on_connected()
        if not named and probe:
            ok = yield from _probe(many, ids, strict=strict)
            if not ok:
                yield from close(reply.stream)
                return give_up("a probe of the jobs' states failed")
            probe = False
        outcome = yield from _read_mux(many, recon, reply.stream, named=named)
        yield from close(reply.stream)
        if not many.streaming:
            return
        if outcome == "events":
            seen_event = True
        elif outcome == "silent" and named and not seen_event:
            return give_up("the stream sent nothing (a buffering proxy?)")
        probe = True  # the gap may have lost events of jobs the server no longer holds
        left = many.remaining()
        what = "the multiplexed stream dropped"
        if not (yield from wait_out_drop(ctx, recon, left=left, what=what)):
            return give_up("the stream keeps dropping")


def _stall(remaining: float | None) -> float:
    return SSE_STALL_TIMEOUT if remaining is None else max(0.05, min(SSE_STALL_TIMEOUT, remaining))


def _connect(many: _Many, req: Any, *, strict: bool) -> Flow[Reply | str]:
    """Open an event stream: the ``Reply`` with its stream (or a ``204``), else why not.

    Transient refusals (no answer, 429, 502-504) are retried by ``stream_refused``;
    ``401``/``403`` raise; a status or content type that says "no such stream" is
    returned as the reason to poll instead.
    """
    ctx = many.ctx
    refusals = 0
    while True:
        refusal: tuple[Failure, Exception] | None = None
        try:
            reply = yield from open_once(req)
        except TransportFailure as exc:
            if exc.kind == "timeout":
                return "no answer (a buffering proxy?)"
            if exc.kind == "other":
                raise
            refusal = (Failure(kind=exc.kind), exc)
        else:
            refusal = refusal_of(ctx, reply)
        if refusal is not None:
            failure, refused_with = refusal
            refusals += 1
            left = many.remaining()
            if not (
                yield from wait_out_refusal(
                    ctx, refusals, failure, left=left, unreachable=many.unreachable
                )
            ):
                if strict or isinstance(refused_with, ServiceUnavailableError):
                    raise refused_with
                return f"{failure.describe()} (after {refusals} tries)"
            continue
        yield from many.reached()
        if reply.status == 204:
            return reply
        if reply.stream is None:
            if reply.status in (401, 403):
                raise error_from_reply(reply)
            if reply.status in _FALLBACK_STATUSES or 300 <= reply.status < 400:
                return f"status {reply.status}"
            raise error_from_reply(reply)
        ctype = reply.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "text/event-stream":
            yield from close(reply.stream)
            return f"content type {ctype or 'missing'!r}"
        return reply


def _probe(many: _Many, ids: Sequence[str], *, strict: bool) -> Flow[bool]:
    """Learn the current state of ``ids`` by short named streams, one run at a time.

    Each opens with one snapshot per job (``status``, or ``complete`` for one that has
    ended) and is closed once every job of its run has been heard of. False: a run's
    stream could not be had (the caller polls instead).
    """
    ctx = many.ctx
    for run in _chunks(ids):
        pending = {jid for jid in run if jid not in many.ended}
        if not pending:
            continue
        req = ctx.request(
            "GET",
            _events_url(ctx, sorted(pending)),
            headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"},
            read_timeout=_stall(many.remaining()),
        )
        reply = yield from _connect(many, req, strict=strict)
        if isinstance(reply, str):
            return False
        if reply.stream is None:  # 204: they have all ended; the polls read their ends
            continue
        heard = yield from _snapshots(many, reply.stream, pending)
        yield from close(reply.stream)
        if not heard:
            return False
    return True


def _snapshots(many: _Many, stream: Any, pending: set[str]) -> Flow[bool]:
    """Read a probe's opening snapshots until every job in ``pending`` was heard of."""
    decoder = SSEDecoder()
    while pending:
        try:
            chunk = yield from read(stream)
            events = decoder.feed(chunk) if chunk else []
        except (TransportFailure, SSEDecodeError):
            return False
        many.remaining()
        if not chunk:
            break
        for sse in events:
            event = event_from_sse(sse)
            if event is None:
                continue
            pending.discard(str(event.data.get("jobId")))
            yield from many.learn(event)
    return True


def _read_mux(
    many: _Many, recon: SSEReconnectState, stream: Any, *, named: bool
) -> Flow[Literal["ended", "events", "dropped", "silent"]]:
    """Read a multiplexed stream until every followed job has ended, or it drops."""
    decoder = SSEDecoder()
    got = False
    while True:
        try:
            chunk = yield from read(stream)
        except TransportFailure as exc:
            many.remaining()
            if exc.kind == "timeout":
                return "events" if got else "silent"
            return "events" if got else "dropped"
        except ServiceUnavailableError:
            return "events" if got else "dropped"
        many.remaining()
        if not chunk:
            decoder.close()
            if named and not many.open_ids():
                return "ended"
            return "events" if got else "dropped"
        try:
            events = decoder.feed(chunk)
        except SSEDecodeError:
            return "events" if got else "dropped"
        recon.update_retry(decoder.retry)
        for sse in events:
            if not recon.accept(sse):
                continue
            got = True
            event = event_from_sse(sse)
            if event is None:
                log.debug("ignoring an event with undecodable data (%s)", sse.event)
                continue
            yield from many.learn(event)
        if not many.streaming:  # once per chunk: O(1), not a scan of every job
            return "ended"


def _poll_in_turns(many: _Many) -> Flow[None]:
    """Poll every unfinished job once per round, then pause as the policy and hints say."""
    ctx = many.ctx
    attempt = outages = 0
    while many.open_ids():
        hint: float | None = None
        upper: float | None = None
        try:
            for jid in many.open_ids():
                reply = yield from many.poll(jid)
                st = many.states[jid]
                if jid in many.ended or st.last is None:
                    continue
                hints = extract_hints(
                    reply.headers,
                    {
                        "retryAfter": st.last.retry_after,
                        "estimatedCompletion": st.last.estimated_completion,
                    },
                    ctx.runtime.wall(),
                )
                if hints.retry_after is not None:
                    hint = hints.retry_after if hint is None else min(hint, hints.retry_after)
                if hints.upper is not None:
                    upper = hints.upper if upper is None else min(upper, hints.upper)
        except ServiceUnavailableError as exc:
            outages += 1
            decision = decide(
                ctx.retry.poll_outage,
                outages,
                rand=ctx.runtime.rand(),
                left=many.remaining(),
                what=str(exc),
            )
            if not decision.retry:
                raise
            yield from many.unreachable(str(exc), decision.delay)
            yield from sleep(decision.delay)
            continue
        outages = 0
        yield from many.reached()
        if not many.open_ids():
            return
        delay = next_delay(
            ctx.policy,
            attempt,
            hint=hint,
            remaining=many.remaining(),
            rand=ctx.runtime.rand(),
            upper=upper,
        )
        attempt += 1
        yield from sleep(delay)


def watch_flow(
    ctx: Context,
    *,
    deadline: Deadline,
    type: str | None = None,
    statuses: Sequence[str] = (),
    last_event_id: str | None = None,
) -> Flow[None]:
    """Every event of the caller's jobs, new ones included, until the deadline (or forever).

    The caller's ``all`` stream (``GET /api/events`` with the filters), resumed with
    ``Last-Event-ID`` after a cut or a stall; each event is ``Emit``-ted as a
    ``JobEvent`` with its ``job_id``. A server without the stream is a ``ProtocolError``
    (there is nothing to poll for jobs nobody has named yet).

    Args:
        ctx: the client context.
        deadline: when to stop (``NO_DEADLINE``: until the caller stops reading).
        type: only jobs of this type.
        statuses: only events whose status is one of these.
        last_event_id: resume after this id.
    """
    query = [("type", type)] if type else []
    query += [("status", status) for status in statuses]
    url = ctx.url("/api/events") + ("?" + urlencode(query) if query else "")
    recon = SSEReconnectState(last_event_id=last_event_id)
    many = _Many(ctx, [], deadline)
    while True:
        req = ctx.request(
            "GET", url, headers=recon.request_headers(), read_timeout=_stall(many.remaining())
        )
        reply = yield from _connect(many, req, strict=True)
        if isinstance(reply, str):
            raise ProtocolError(f"the server has no stream of all your jobs: {reply}")
        if reply.stream is None:  # 204: nothing more will come
            return
        recon.on_connected()
        decoder = SSEDecoder()
        try:
            while True:
                chunk = yield from read(reply.stream)
                many.remaining()
                if not chunk:
                    break
                recon.update_retry(decoder.retry)
                for sse in decoder.feed(chunk):
                    if not recon.accept(sse):
                        continue
                    event = event_from_sse(sse)
                    if event is None:
                        continue
                    jid = event.data.get("jobId")
                    job_id = jid if isinstance(jid, str) else None
                    yield from emit(event.model_copy(update={"job_id": job_id}))
        except (TransportFailure, ServiceUnavailableError, SSEDecodeError) as exc:
            log.debug("the stream of all jobs: %s", exc)
        # (never a yield in a `finally`: a caller that stops iterating closes the flow,
        # and the shell closes what is still open)
        yield from close(reply.stream)
        left = many.remaining()
        what = "the stream of all jobs dropped"
        if not (yield from wait_out_drop(ctx, recon, left=left, what=what)):
            raise ServiceUnavailableError(f"the stream of all jobs keeps dropping ({url})")
