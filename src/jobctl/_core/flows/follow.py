"""Following a job to its end: the SSE stream first, then long polls, then polls.

``follow_flow`` is shared by ``wait`` and ``events``. It ``Emit``s an ``Update``
for everything learnt (an SSE event or a poll that saw a change) and returns the
terminal ``Job`` (or, for events, stops at the terminal event).

Strategy ``auto``: follow ``GET .../events``; when the stream can't be had (404,
405, 406, a wrong content type, a proxy that buffers and sends nothing, a
stream that keeps dropping) fall back to long polling (``Prefer: wait=N``, kept
only while the server answers ``Preference-Applied``), else to ``PollPolicy``
pacing. One overall deadline bounds everything, whatever the per-request timeouts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ...errors import InvalidArgumentError, ProtocolError, ServiceUnavailableError
from ...models import Job, JobError, JobEvent, Progress, WaitTimeoutError
from ..context import Context
from ..deadline import Deadline
from ..effects import Flow, close, emit, open_once, read, sleep
from ..http import Reply, TransportFailure, error_from_reply, log, too_deep
from ..notices import ConnectionEvent
from ..polling import (
    event_from_job,
    long_poll_seconds,
    next_delay,
    preference_applied_wait,
)
from ..refs import Target
from ..retry import RETRYABLE_STATUSES, Failure, decide, extract_hints, parse_retry_after
from ..sse import ServerSentEvent, SSEDecodeError, SSEDecoder, SSEReconnectState
from .jobs import anchored, get_flow

__all__ = [
    "SSE_STALL_TIMEOUT",
    "Strategy",
    "Update",
    "event_from_sse",
    "follow_flow",
    "job_event",
]

Strategy = Literal["auto", "sse", "poll"]

SSE_STALL_TIMEOUT = 20.0
"""Seconds of silence (no event, no keepalive) after which a stream counts as stalled.
The protocol sends a keepalive at least every 15 s; a proxy that buffers the
stream sends nothing at all, so the first stall before any event means fallback."""
LONG_POLL_SLACK = 10.0
"""A long poll's read timeout is its wait plus this."""

_FALLBACK_STATUSES = frozenset({400, 404, 405, 406, 410, 415, 501})


@dataclass(frozen=True)
class Update:
    """One thing learnt while following a job.

    Args:
        event: the typed event (from the stream, or derived from a poll).
        job: the best current snapshot of the job.
        changed: True when the status or progress differs from the last update.
    """

    event: JobEvent
    job: Job
    changed: bool


class _State:
    def __init__(self, ctx: Context, target: Target, deadline: Deadline):
        self.ctx = ctx
        self.target = target
        self.deadline = deadline
        self.last: Job | None = target.job
        self.key: tuple[Any, ...] | None = None
        self.observed = False  # a snapshot or event from the server arrived in this wait
        self.complete = False  # the stream's `complete` brought the job's full document
        self.progress = True  # long polls also end at progress steps
        self.down = False  # a poll or (re)connect failed past its retries: say when it's back

    def reached(self) -> Flow[None]:
        """An answer came: if the server was unreachable, say it is back."""
        if self.down:
            self.down = False
            yield from emit(ConnectionEvent(ok=True))

    def unreachable(self, reason: str, retry_in: float) -> Flow[None]:
        """The server can't be reached for now; the next try is in ``retry_in`` seconds."""
        self.down = True
        left = self.ctx.runtime.left(self.deadline)
        yield from emit(ConnectionEvent(False, reason, retry_in, left))

    def remaining(self) -> float | None:
        """Seconds left; raises ``WaitTimeoutError`` once the deadline has passed."""
        left = self.ctx.runtime.left(self.deadline)
        if left is not None and left <= 0:
            raise WaitTimeoutError(self.last, self.deadline.seconds or 0.0)
        return left

    def update(self, event: JobEvent, job: Job) -> Flow[None]:
        progress = job.progress
        key = (
            job.status,
            progress.current if progress else None,
            progress.total if progress else None,
        )
        changed = key != self.key
        self.key, self.last, self.observed = key, job, True
        yield from emit(Update(event, job, changed))

    def merge(self, event: JobEvent) -> Job:
        if (
            event.job is not None
            and event.job.is_terminal
            and event.job.job_id == self.target.job_id
        ):
            return anchored(self.ctx, self.target, event.job)
        base = self.last or Job(job_id=self.target.job_id, status_url=self.target.status_url)
        update: dict[str, Any] = {}
        if event.status is not None:
            update["status"] = event.status
        if event.progress is not None:
            update["progress"] = event.progress
        if event.result_url is not None:
            update["result_url"] = self.ctx.resolve(event.result_url)
        if event.error is not None:
            update["error"] = event.error
        return base.model_copy(update=update) if update else base


def event_from_sse(sse: ServerSentEvent) -> JobEvent | None:
    """A typed ``JobEvent`` from a decoded SSE event; None when its data is not a JSON object.

    Args:
        sse: the decoded event.
    """
    try:
        data = json.loads(sse.data) if sse.data else {}
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None
    return job_event(sse.event, sse.id, data)


def job_event(
    name: str, event_id: str | None, data: object, source: Literal["sse", "ws"] = "sse"
) -> JobEvent | None:
    """A typed ``JobEvent`` from an event's name, id and decoded data (SSE or WebSocket).

    Args:
        name: ``status``, ``progress`` or ``complete``.
        event_id: its id.
        data: the decoded JSON data; None is returned when it is not an object.
        source: where it came from.
    """
    if not isinstance(data, dict) or too_deep(data):
        return None
    progress: Progress | None = None
    raw_progress = data if name == "progress" else data.get("progress")
    if isinstance(raw_progress, dict):
        try:
            progress = Progress.model_validate(raw_progress)
        except ValueError:
            progress = None
    error: JobError | None = None
    if isinstance(data.get("error"), dict):
        try:
            error = JobError.model_validate(data["error"])
        except ValueError:
            error = None
    job: Job | None = None
    if name == "complete" and isinstance(data.get("job"), dict):
        try:  # the job's full status document: the wait can end without another request
            job = Job.model_validate(data["job"])
        except ValueError:
            job = None
    status = data.get("status")
    try:
        return JobEvent(
            event=name,
            id=event_id,
            status=status if isinstance(status, str) else None,
            progress=progress,
            result_url=data.get("resultUrl") if isinstance(data.get("resultUrl"), str) else None,
            error=error,
            data=data,
            source=source,
            job=job,
        )
    except ValueError:
        return None


def refusal_of(ctx: Context, reply: Reply) -> tuple[Failure, Exception] | None:
    """A (re)connect answered ``429 502 503 504``: a transient refusal, not a broken
    stream (``stream_refused``), with the error to raise once its tries are spent.

    Args:
        ctx: the client context.
        reply: the answer to an event stream's or a feed's (re)connect.
    """
    if reply.stream is not None or reply.status not in RETRYABLE_STATUSES:
        return None
    after = parse_retry_after(reply.headers.get("retry-after"), ctx.runtime.wall())
    return Failure(reply.status, retry_after=after), error_from_reply(reply)


def wait_out_refusal(
    ctx: Context,
    refusals: int,
    failure: Failure,
    *,
    left: float | None,
    unreachable: Callable[[str, float], Flow[None]],
) -> Flow[bool]:
    """Pause before the next try of a refused (re)connect, as ``stream_refused`` says.

    Shared by the per-job stream, the multiplexed stream and the WebSocket feed.

    Args:
        ctx: the client context.
        refusals: refusals in a row, this one included.
        failure: what refused.
        left: seconds left of the deadline.
        unreachable: says the server can't be reached, and when the next try is.

    Returns:
        False once the tries are spent (no pause then).
    """
    decision = decide(
        ctx.retry.stream_refused,
        refusals,
        rand=ctx.runtime.rand(),
        retry_after=failure.retry_after,
        left=left,
        what=failure.describe(),
    )
    if not decision.retry:
        return False
    log.debug("event stream: %s", decision.reason)
    yield from unreachable(failure.describe(), decision.delay)
    yield from sleep(decision.delay)
    return True


def wait_out_drop(
    ctx: Context, recon: SSEReconnectState, *, left: float | None, what: str
) -> Flow[bool]:
    """Pause before reconnecting an event stream that ended early, as ``stream_drop`` says
    (the server's ``retry:`` first). Shared by the per-job and the multiplexed streams.

    Args:
        ctx: the client context.
        recon: the stream's reconnect bookkeeping (counts this drop).
        left: seconds left of the deadline.
        what: the drop, for the log.

    Returns:
        False once the drops in a row are too many (no pause then).
    """
    decision = decide(
        ctx.retry.stream_drop,
        recon.on_drop(),
        rand=ctx.runtime.rand(),
        first=recon.retry_seconds,
        left=left,
        what=what,
    )
    if not decision.retry:
        return False
    log.debug("event stream: %s", decision.reason)
    yield from sleep(decision.delay)
    return True


def follow_flow(
    ctx: Context,
    target: Target,
    *,
    deadline: Deadline,
    strategy: Strategy = "auto",
    last_event_id: str | None = None,
    final: bool = True,
    progress: bool = True,
) -> Flow[Job | None]:
    """Follow a job to its end, ``Emit``-ting an ``Update`` for everything learnt.

    Args:
        ctx: the client context.
        target: the job.
        deadline: the overall deadline.
        strategy: ``auto``, ``sse`` (stream only) or ``poll`` (polls only).
        last_event_id: resume the event stream after this id.
        final: fetch and return the terminal ``Job`` (``wait``); False stops at the
            terminal event and returns None (``events``).
        progress: someone listens for progress: long polls also end at a progress
            step (``Prefer: wait=N, progress``); without, only a change of status
            ends them (a 20 s job then costs a request or two, not one per step).
    """
    if strategy not in ("auto", "sse", "poll"):
        raise InvalidArgumentError("strategy must be 'auto', 'sse' or 'poll'")
    st = _State(ctx, target, deadline)
    st.progress = progress
    if final and st.last is not None and st.last.is_terminal and last_event_id is None:
        return st.last
    try:
        if deadline.passed(ctx.runtime.clock()):
            raise WaitTimeoutError(st.last, deadline.seconds or 0.0)  # "tell me now"
        return (yield from _follow(st, strategy, last_event_id, final))
    except WaitTimeoutError:
        if st.observed:
            raise
        # A deadline is judged only after looking: read the status once (one try,
        # the deadline has passed) and answer with what it says.
        job, _ = yield from get_flow(ctx, target, deadline=deadline)
        event = event_from_job(job, None)
        if event is not None:
            yield from st.update(event, job)
        if job.is_terminal:
            return job if final else None
        raise WaitTimeoutError(job, deadline.seconds or 0.0) from None


def _follow(
    st: _State, strategy: Strategy, last_event_id: str | None, final: bool
) -> Flow[Job | None]:
    ctx, target = st.ctx, st.target
    if strategy != "poll":
        ended = yield from _follow_stream(st, last_event_id, strict=strategy == "sse")
        if ended:
            if not final:
                return None
            if st.last is not None and st.last.is_terminal and st.complete:
                return st.last  # `complete` carried the whole job: no second round trip
            job, _ = yield from get_flow(ctx, target, deadline=st.deadline)
            if job.is_terminal:
                return job
    return (yield from _follow_polls(st, final))


def _follow_stream(st: _State, last_event_id: str | None, *, strict: bool) -> Flow[bool]:
    """Read the event stream; True when the job ended, False to fall back to polling."""
    ctx, target = st.ctx, st.target
    recon = SSEReconnectState(last_event_id=last_event_id)
    seen_event = False
    refusals = 0

    def give_up(why: str) -> bool:
        if strict:
            raise ProtocolError(f"event stream of job {target.job_id} unavailable: {why}")
        log.debug("events of job %s: %s; falling back to polling", target.job_id, why)
        return False

    while True:
        remaining = st.remaining()
        stall = (
            SSE_STALL_TIMEOUT if remaining is None else max(0.05, min(SSE_STALL_TIMEOUT, remaining))
        )
        # One attempt per (re)connect: refusals and drops have rows of their own.
        req = ctx.request(
            "GET", target.events_url, headers=recon.request_headers(), read_timeout=stall
        )
        refusal: tuple[Failure, Exception] | None = None
        try:
            reply = yield from open_once(req)
        except TransportFailure as exc:
            if exc.kind == "timeout" and not seen_event:
                return give_up("no answer (a buffering proxy?)")
            if exc.kind == "other":
                raise
            # No answer at all (refused, reset before the headers): the server is away
            # or shedding load, which is not the stream dropping.
            refusal = (Failure(kind=exc.kind), exc)
        else:
            # 429/502/503/504 on (re)connect: a transient refusal, not a broken stream;
            # past its retries it is the service's unavailability, never "the stream
            # keeps dropping".
            refusal = refusal_of(ctx, reply)
        if refusal is not None:
            failure, refused_with = refusal
            refusals += 1
            left = st.remaining()
            if not (
                yield from wait_out_refusal(
                    ctx, refusals, failure, left=left, unreachable=st.unreachable
                )
            ):
                if strict:
                    raise refused_with
                return give_up(f"{failure.describe()} (after {refusals} tries)")
            continue
        refusals = 0
        yield from st.reached()
        if reply.status == 204:  # the stream has ended for good (after `complete`)
            if reply.stream is not None:
                yield from close(reply.stream)
            return True
        elif reply.stream is None:
            if reply.status in (401, 403):
                raise error_from_reply(reply)
            if reply.status in _FALLBACK_STATUSES or 300 <= reply.status < 400:
                return give_up(f"status {reply.status}")
        else:
            ctype = reply.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "text/event-stream":
                yield from close(reply.stream)
                return give_up(f"content type {ctype or 'missing'!r}")
            recon.on_connected()
            outcome = yield from _read_stream(st, recon, reply.stream)
            yield from close(reply.stream)
            if outcome == "ended":
                return True
            if outcome == "events":
                seen_event = True
            elif outcome == "silent" and not seen_event:
                return give_up("the stream sent nothing (a buffering proxy?)")
        left = st.remaining()
        if not (yield from wait_out_drop(ctx, recon, left=left, what="the stream dropped")):
            return give_up("the stream keeps dropping")


def _read_stream(
    st: _State, recon: SSEReconnectState, stream: Any
) -> Flow[Literal["ended", "events", "dropped", "silent"]]:
    # The stream ends with `complete` (it carries the result URL or the error); a
    # terminal `status` snapshot comes just before it. Should a server end the stream
    # after a terminal status without `complete`, that still counts as the end.
    decoder = SSEDecoder()
    got = terminal = False
    while True:
        try:
            chunk = yield from read(stream)
        except TransportFailure as exc:
            st.remaining()
            if terminal:
                return "ended"
            if exc.kind == "timeout":
                return "events" if got else "silent"
            return "events" if got else "dropped"
        except ServiceUnavailableError:
            return "ended" if terminal else "events" if got else "dropped"
        st.remaining()
        if not chunk:
            decoder.close()
            return "ended" if terminal else "events" if got else "dropped"
        try:
            events = decoder.feed(chunk)
        except SSEDecodeError:
            return "ended" if terminal else "events" if got else "dropped"
        recon.update_retry(decoder.retry)
        for sse in events:
            if not recon.accept(sse):
                continue
            got = True
            event = event_from_sse(sse)
            if event is None:
                log.debug("ignoring an event with undecodable data (%s)", sse.event)
                continue
            job = st.merge(event)
            yield from st.update(event, job)
            if event.event == "complete":
                st.complete = event.job is not None and job.is_terminal
                return "ended"
            terminal = terminal or event.is_terminal


def _follow_polls(st: _State, final: bool) -> Flow[Job | None]:
    ctx, target, policy = st.ctx, st.target, st.ctx.policy
    long_ok: bool | None = None if policy.long_poll >= 1 else False
    attempt = outages = 0
    previous = st.last if st.key is not None else None
    while True:
        remaining = st.remaining()
        wait = long_poll_seconds(policy, remaining) if long_ok is not False else 0
        prefer = f"wait={wait}, progress" if st.progress else f"wait={wait}"
        headers = {"Prefer": prefer} if wait else {}
        started = ctx.runtime.clock()
        try:
            job, reply = yield from get_flow(
                ctx,
                target,
                headers=headers,
                read_timeout=wait + LONG_POLL_SLACK if wait else None,
                deadline=st.deadline,
            )
        except ServiceUnavailableError as exc:
            # Each poll already had its transport retries; a wait rides out a longer
            # outage (a server restart) for a few more rounds, within its deadline.
            outages += 1
            decision = decide(
                ctx.retry.poll_outage,
                outages,
                rand=ctx.runtime.rand(),
                left=st.remaining(),
                what=str(exc),
            )
            if not decision.retry:
                raise
            log.debug("job %s: %s", target.job_id, decision.reason)
            yield from st.unreachable(str(exc), decision.delay)
            yield from sleep(decision.delay)
            continue
        outages = 0
        yield from st.reached()
        event = event_from_job(job, previous)
        previous = job
        if event is not None:
            yield from st.update(event, job)
        if job.is_terminal:
            return job if final else None
        applied = preference_applied_wait(reply.headers.get("preference-applied"))
        if wait:
            if applied is None and long_ok is None:
                log.debug("server ignored Prefer: wait; polling with backoff")
            long_ok = applied is not None
            elapsed = ctx.runtime.clock() - started
            if applied is not None and (event is not None or elapsed >= min(wait, applied) / 2):
                attempt = 0
                continue
        hints = extract_hints(
            reply.headers,
            {"retryAfter": job.retry_after, "estimatedCompletion": job.estimated_completion},
            ctx.runtime.wall(),
        )
        left = st.remaining()
        delay = next_delay(
            policy,
            attempt,
            hint=hints.retry_after,
            remaining=left,
            rand=ctx.runtime.rand(),
            upper=hints.upper,
        )
        attempt += 1
        why = "server hint" if hints.retry_after is not None else "backoff"
        log.debug("job %s is %s; next poll in %.2fs (%s)", target.job_id, job.status, delay, why)
        yield from sleep(delay)
