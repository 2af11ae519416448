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
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal

from ...errors import InvalidArgumentError, ProtocolError, ServiceUnavailableError, WaitTimeoutError
from ...models import Job, JobError, JobEvent, Progress
from ..effects import Close, Context, Effect, Emit, Open, Read, Sleep, Target
from ..http import Reply, TransportFailure, error_from_reply, log, too_deep
from ..polling import (
    event_from_job,
    long_poll_seconds,
    next_delay,
    preference_applied_wait,
)
from ..retry import RETRYABLE_STATUSES, FailureKind, decide_retry, extract_hints, parse_retry_after
from ..sse import ServerSentEvent, SSEDecodeError, SSEDecoder, SSEReconnectState
from .jobs import get_flow

__all__ = ["SSE_STALL_TIMEOUT", "Strategy", "Update", "event_from_sse", "follow_flow"]

Strategy = Literal["auto", "sse", "poll"]

SSE_STALL_TIMEOUT = 20.0
"""Seconds of silence (no event, no keepalive) after which a stream counts as stalled.
The protocol sends a keepalive at least every 15 s; a proxy that buffers the
stream sends nothing at all, so the first stall before any event means fallback."""
LONG_POLL_SLACK = 10.0
"""A long poll's read timeout is its wait plus this."""
OUTAGE_ROUNDS = 3
# The longest pause between reconnects refused with 429/5xx or a refused connection
# (unless Retry-After asks for more); the budget is max_retries * (OUTAGE_ROUNDS + 1).
REFUSAL_CAP = 4.0
"""Polls that failed even after their transport retries, in a row, before a wait gives up."""

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
    def __init__(self, ctx: Context, target: Target, deadline: float | None, timeout: float):
        self.ctx = ctx
        self.target = target
        self.deadline = deadline
        self.timeout = timeout
        self.last: Job | None = target.job
        self.key: tuple[Any, ...] | None = None

    def remaining(self) -> float | None:
        """Seconds left; raises ``WaitTimeoutError`` once the deadline has passed."""
        if self.deadline is None:
            return None
        left = self.deadline - self.ctx.runtime.clock()
        if left <= 0:
            raise WaitTimeoutError(self.last, self.timeout)
        return left

    def update(self, event: JobEvent, job: Job) -> Emit:
        progress = job.progress
        key = (
            job.status,
            progress.current if progress else None,
            progress.total if progress else None,
        )
        changed = key != self.key
        self.key, self.last = key, job
        return Emit(Update(event, job, changed))

    def merge(self, event: JobEvent) -> Job:
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
    if not isinstance(data, dict) or too_deep(data):
        return None
    progress: Progress | None = None
    raw_progress = data if sse.event == "progress" else data.get("progress")
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
    status = data.get("status")
    try:
        return JobEvent(
            event=sse.event,
            id=sse.id,
            status=status if isinstance(status, str) else None,
            progress=progress,
            result_url=data.get("resultUrl") if isinstance(data.get("resultUrl"), str) else None,
            error=error,
            data=data,
            source="sse",
        )
    except ValueError:
        return None


def follow_flow(
    ctx: Context,
    target: Target,
    *,
    timeout: float | None,
    strategy: Strategy = "auto",
    last_event_id: str | None = None,
    final: bool = True,
) -> Generator[Effect, Any, Job | None]:
    """Follow a job to its end, ``Emit``-ting an ``Update`` for everything learnt.

    Args:
        ctx: the client context.
        target: the job.
        timeout: the overall deadline in seconds, or None to wait for ever.
        strategy: ``auto``, ``sse`` (stream only) or ``poll`` (polls only).
        last_event_id: resume the event stream after this id.
        final: fetch and return the terminal ``Job`` (``wait``); False stops at the
            terminal event and returns None (``events``).
    """
    if strategy not in ("auto", "sse", "poll"):
        raise InvalidArgumentError("strategy must be 'auto', 'sse' or 'poll'")
    if timeout is not None and timeout < 0:
        raise InvalidArgumentError("timeout must be >= 0")
    deadline = None if timeout is None else ctx.runtime.clock() + timeout
    st = _State(ctx, target, deadline, timeout or 0.0)
    if final and st.last is not None and st.last.is_terminal and last_event_id is None:
        return st.last
    if strategy != "poll":
        ended = yield from _follow_stream(st, last_event_id, strict=strategy == "sse")
        if ended:
            if not final:
                return None
            job, _ = yield from get_flow(ctx, target)
            if job.is_terminal:
                return job
    return (yield from _follow_polls(st, final))


def _follow_stream(
    st: _State, last_event_id: str | None, *, strict: bool
) -> Generator[Effect, Any, bool]:
    """Read the event stream; True when the job ended, False to fall back to polling."""
    ctx, target = st.ctx, st.target
    recon = SSEReconnectState(last_event_id=last_event_id)
    seen_event = False
    refusals = 0

    def refused(
        status: int | None, failure: FailureKind | None, after: float | None, exc: Exception
    ) -> float | None:
        """The pause before reconnecting after a refusal; None once the retries are used up.

        With ``strategy="sse"`` (strict), ``exc`` is raised instead of returning None.
        """
        nonlocal refusals
        refusals += 1
        decision = decide_retry(
            method="GET",
            attempt=refusals,
            max_retries=ctx.max_retries * (OUTAGE_ROUNDS + 1),
            status=status,
            failure=failure,
            retry_after=after,
            rand=ctx.runtime.rand(),
            # short pauses, as a poll's retries have; a longer Retry-After is honoured
            cap=REFUSAL_CAP if after is None else min(max(after, REFUSAL_CAP), 30.0),
        )
        if not decision.retry:
            if strict:
                raise exc
            return None
        log.debug("events of job %s: %s", target.job_id, decision.reason)
        left = st.remaining()
        return decision.delay if left is None else min(decision.delay, left)

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
        # No transport retries here: a drop is handled by the reconnect state.
        req = ctx.request(
            "GET",
            target.events_url,
            headers=recon.request_headers(),
            read_timeout=stall,
            retries=False,
        )
        try:
            reply: Reply = yield Open(req)
        except TransportFailure as exc:
            if exc.kind == "timeout" and not seen_event:
                return give_up("no answer (a buffering proxy?)")
            if exc.kind == "other":
                raise
            # No answer at all (refused, reset before the headers): the server is away
            # or shedding load, which is not the stream dropping.
            pause = refused(None, exc.kind, None, exc)
            if pause is None:
                return give_up(f"{exc.message} (after {refusals} tries)")
            yield Sleep(pause)
            continue
        if reply.stream is None and reply.status in RETRYABLE_STATUSES:
            # 429/502/503/504 on (re)connect: a transient refusal, not a broken stream. It
            # is retried like any request (Retry-After honoured) and does not use up the
            # reconnect state's budget for drops; past the retries it is the service's
            # unavailability, never "the stream keeps dropping".
            after = parse_retry_after(reply.headers.get("retry-after"), ctx.runtime.wall())
            pause = refused(reply.status, None, after, error_from_reply(reply))
            if pause is None:
                return give_up(f"status {reply.status} (after {refusals} tries)")
            yield Sleep(pause)
            continue
        refusals = 0
        if reply.status == 204:  # the stream has ended for good (after `complete`)
            if reply.stream is not None:
                yield Close(reply.stream)
            return True
        elif reply.stream is None:
            if reply.status in (401, 403):
                raise error_from_reply(reply)
            if reply.status in _FALLBACK_STATUSES or 300 <= reply.status < 400:
                return give_up(f"status {reply.status}")
        else:
            ctype = reply.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "text/event-stream":
                yield Close(reply.stream)
                return give_up(f"content type {ctype or 'missing'!r}")
            recon.on_connected()
            outcome = yield from _read_stream(st, recon, reply.stream)
            yield Close(reply.stream)
            if outcome == "ended":
                return True
            if outcome == "events":
                seen_event = True
            elif outcome == "silent" and not seen_event:
                return give_up("the stream sent nothing (a buffering proxy?)")
        st.remaining()
        delay = recon.on_drop()
        if delay is None:
            return give_up("the stream keeps dropping")
        left = st.remaining()
        log.debug("events of job %s dropped; reconnecting in %.2fs", target.job_id, delay)
        yield Sleep(delay if left is None else min(delay, left))


def _read_stream(
    st: _State, recon: SSEReconnectState, stream: Any
) -> Generator[Effect, Any, Literal["ended", "events", "dropped", "silent"]]:
    # The stream ends with `complete` (it carries the result URL or the error); a
    # terminal `status` snapshot comes just before it. Should a server end the stream
    # after a terminal status without `complete`, that still counts as the end.
    decoder = SSEDecoder()
    got = terminal = False
    while True:
        try:
            chunk: bytes = yield Read(stream)
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
            yield st.update(event, job)
            if event.event == "complete":
                return "ended"
            terminal = terminal or event.is_terminal


def _follow_polls(st: _State, final: bool) -> Generator[Effect, Any, Job | None]:
    ctx, target, policy = st.ctx, st.target, st.ctx.policy
    long_ok: bool | None = None if policy.long_poll >= 1 else False
    attempt = outages = 0
    previous = st.last if st.key is not None else None
    while True:
        remaining = st.remaining()
        wait = long_poll_seconds(policy, remaining) if long_ok is not False else 0
        headers = {"Prefer": f"wait={wait}"} if wait else {}
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
            left = st.remaining()
            if outages > OUTAGE_ROUNDS:
                raise
            delay = next_delay(policy, outages, hint=None, remaining=left, rand=ctx.runtime.rand())
            log.debug("job %s: %s; polling again in %.2fs", target.job_id, exc, delay)
            yield Sleep(delay)
            continue
        outages = 0
        event = event_from_job(job, previous)
        previous = job
        if event is not None:
            yield st.update(event, job)
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
        yield Sleep(delay)
