"""Any async API: send the request that starts an operation, then follow it to its end.

``call_flow`` sends one request (retried only when that is safe: GET, PUT,
DELETE, or a keyed POST/PATCH) and decides its dialect (``dialects.detect``).
``operation_flow`` follows it with the machinery every dialect shares: one
deadline, ``Retry-After`` (up to 5 minutes) else jittered backoff from 1 s
(x1.5, capped at 30 s), transient failures retried (``requests.request``),
cookies kept for the operation, and credentials — the token, ``--header``
values, cookies — sent only to the origin of the initial request. Our own
dialect is followed by the job follower (events, long polls); its result is
the job's result.
"""

from __future__ import annotations

import re
from dataclasses import replace
from http.cookies import CookieError, SimpleCookie
from typing import Any

from ...errors import APIError, InvalidArgumentError, JobctlError, ProtocolError
from ...models import Job, JobStatus, WaitTimeoutError
from ..context import Context
from ..deadline import Deadline
from ..dialects import (
    Answer,
    Observation,
    check_dialect,
    detect,
    final_request,
    inline_result,
    observe,
    observe_monitor,
    poll,
)
from ..effects import Flow, counted, emit, sleep
from ..http import MAX_JSON_BODY, Reply, Request, error_from_reply, log, parse_json
from ..operations import Operation, OperationResult, Outcome
from ..polling import next_delay
from ..refs import Target
from ..retry import extract_hints
from ..urls import origin, redact_url, resolve_url, safe_url, split_credentials
from .follow import follow_flow
from .requests import request

__all__ = [
    "HINT_CAP",
    "call_flow",
    "cancel_operation_flow",
    "monitor_flow",
    "operation_flow",
]

HINT_CAP = 300.0
"""The longest ``Retry-After`` an operation honours (absurd ones are clamped here)."""
LONG_WAIT = 30
"""Seconds a Google ``:wait`` long poll may hold."""

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _absolute(ctx: Context, url: str) -> str:
    """An absolute URL: as given, or relative to the API base URL."""
    text = url.strip()
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        if not text.lower().startswith(("http://", "https://")):
            raise InvalidArgumentError(f"only http and https URLs can be called: {text[:80]!r}")
        try:
            bare, creds = split_credentials(text)
        except ValueError as exc:
            raise InvalidArgumentError(f"the URL {exc}") from None
        if creds is not None:
            raise InvalidArgumentError(
                f"{redact_url(text)!r} carries credentials: pass them with --header / headers="
            )
        return bare
    if not text.startswith("/"):
        raise InvalidArgumentError(
            f"not a URL: {text[:80]!r} (give http(s)://host/path, or a path starting with / "
            "relative to the API URL)"
        )
    return ctx.url(text)


def _same_origin(a: str, b: str) -> bool:
    try:
        return origin(a) == origin(b)
    except ValueError:
        return False


class _Session:
    """What an operation carries between its requests: headers, cookies, the count."""

    def __init__(self, ctx: Context, op: Operation, deadline: Deadline) -> None:
        self.ctx = ctx
        self.op = op
        self.home = op.url
        self.deadline = deadline
        self.cookies: dict[str, str] = dict(op.cookies)

    def request(
        self, method: str, url: str, *, json: Any = None, long: float = 0, reads: bool = False
    ) -> Request:
        """A request of this operation: headers and cookies only to the initial origin.

        ``reads``: it only observes (a Google ``POST :wait``), so it may be sent again
        after a transient failure whatever its method.
        """
        headers: dict[str, str] = {}
        auth = False
        if _same_origin(url, self.home):
            headers.update(self.op.headers)
            headers.update(self._cookie())
            auth = self.ctx.auth(url)
        return Request(
            method,
            url,
            headers=headers,
            json=json,
            auth=auth,
            deadline=self.deadline,
            read_timeout=long + 10.0 if long else None,
            repeatable=reads,
        )

    def _cookie(self) -> dict[str, str]:
        return (
            {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
            if self.cookies
            else {}
        )

    def send(self, req: Request) -> Flow[Reply]:
        """Send a request of this operation (transient failures retried), keeping the
        cookies of its answer and of every answer it retried."""
        reply = yield from request(self.ctx, req, renew=self._renewed)
        self.keep_cookies(reply)
        return reply

    def _renewed(self, reply: Reply, req: Request) -> Request:
        """``req`` once more after ``reply`` (retried): with the cookies that answer set."""
        self.keep_cookies(reply)
        if not _same_origin(req.url, self.home):
            return req
        headers = {k: v for k, v in req.headers.items() if k.lower() != "cookie"}
        return replace(req, headers={**headers, **self._cookie()})

    def keep_cookies(self, reply: Reply) -> None:
        """Cookies the initial origin sets are sent back to it for this operation."""
        if not _same_origin(reply.url, self.home):
            return
        for raw in reply.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(raw)
            except CookieError:
                continue
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


def _answer(reply: Reply) -> Answer:
    return Answer(reply.status, reply.headers, reply.body, reply.url)


def _result(reply: Reply) -> Any:
    """A final result's body: JSON when it says so, else bytes (bounded: 16 MiB)."""
    if reply.truncated:
        raise ProtocolError(
            f"GET {safe_url(reply.url)}: the result is larger than {MAX_JSON_BODY} bytes; "
            "fetch it with a streaming download instead (jobctl result / download())"
        )
    return _answer(reply).payload()


def _refusal(reply: Reply) -> APIError:
    return error_from_reply(reply)


def call_flow(
    ctx: Context,
    method: str,
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    dialect: str = "auto",
    final_state_via: str | None = None,
    idempotency_key: str | None = None,
    deadline: Deadline,
) -> Flow[Operation]:
    """Send the request that starts an operation and decide how to follow it.

    Args:
        ctx: the client context.
        method: the HTTP method (a token: ``POST``, ``PUT``, ...).
        url: an absolute URL, or a path relative to the API base URL.
        json: a JSON body.
        content: a raw body (instead of ``json``).
        headers: headers sent with every request of the operation to its origin.
        dialect: ``auto`` or the dialect to follow it in.
        final_state_via: an Azure final-state rule.
        idempotency_key: sent as ``Idempotency-Key`` (and Azure's
            ``Repeatability-Request-ID``), which makes a POST/PATCH safe to retry.
        deadline: bounds the request and its retries.

    Raises:
        InvalidArgumentError: a bad method, URL, header, dialect or rule.
        APIError: the request was refused, or the server could not be reached.
        ProtocolError: the answer can't be followed (a ``202`` naming nothing).
    """
    method = method.strip().upper() if isinstance(method, str) else ""
    if not _TOKEN.match(method):
        raise InvalidArgumentError(f"not an HTTP method: {method[:40]!r}")
    check_dialect(dialect, final_state_via)
    if json is not None and content is not None:
        raise InvalidArgumentError("give a JSON body or raw content, not both")
    target = _absolute(ctx, url)
    sent: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not _TOKEN.match(name) or any(ch in value for ch in "\r\n\x00"):
            raise InvalidArgumentError(f"not a usable header: {name[:40]!r}")
        sent[name] = value
    if idempotency_key is not None:
        if not re.fullmatch(r"[\x21-\x7e]{1,255}", idempotency_key):
            raise InvalidArgumentError("idempotency_key must be 1 to 255 visible ASCII characters")
        sent["Idempotency-Key"] = idempotency_key
        if dialect == "azure":
            sent["Repeatability-Request-ID"] = idempotency_key
    op = Operation("pending", method, target, None, headers=tuple(sent.items()))
    session = _Session(ctx, op, deadline)
    req = session.request(method, target, json=json)
    if content is not None:
        req = replace(req, content=content)
    keyed = idempotency_key is not None
    tally = [0]
    reply = yield from counted(
        session.send(replace(req, idempotent_key=keyed, repeatable=keyed)), tally
    )
    if reply.status >= 400 or (300 <= reply.status < 400):
        raise _refusal(reply)
    start = detect(method, target, _answer(reply), dialect=dialect, final_state_via=final_state_via)
    return replace(
        op,
        dialect=start.dialect,
        monitor=start.monitor,
        location=start.location,
        final_via=start.final_via,
        api_version=start.api_version,
        started=ctx.runtime.wall(),
        status=start.first.status,
        progress=start.first.progress,
        first=start.first,
        cookies=tuple(session.cookies.items()),
        sent=tally[0],
        hint=_hint(ctx, reply),
    )


def _hint(ctx: Context, reply: Reply) -> float | None:
    return answer_hint(reply, ctx.runtime.wall())


def answer_hint(reply: Reply, wall: float) -> float | None:
    """An answer's ``Retry-After`` (header, else body ``retryAfter``), in seconds: the
    first poll of an operation waits for it (``Operation.hint``, counted from ``started``).

    Args:
        reply: the answer.
        wall: the wall clock now (a date in ``Retry-After`` counts from it).
    """
    return extract_hints(reply.headers, parse_or_none(reply), wall).retry_after


def monitor_flow(
    ctx: Context, url: str, headers: dict[str, str], deadline: Deadline
) -> Flow[Operation]:
    """An operation from a monitor URL alone (``jobctl wait URL``): look once, detect.

    Args:
        ctx: the client context.
        url: the monitor URL.
        headers: headers for its origin.
        deadline: bounds the look.
    """
    target = _absolute(ctx, url)
    op = Operation("pending", "GET", target, target, headers=tuple(headers.items()))
    session = _Session(ctx, op, deadline)
    tally = [0]
    reply = yield from counted(session.send(session.request("GET", target)), tally)
    if reply.status >= 400 or reply.status in (301, 302, 307, 308):
        raise _refusal(reply)
    dialect, first = observe_monitor(_answer(reply))
    if dialect == "jobctl":
        first = Observation("running", first.status, body=first.body)
    return replace(
        op,
        dialect=dialect,
        monitor=first.next_monitor or target,
        started=ctx.runtime.wall(),
        status=first.status,
        progress=first.progress,
        first=first,
        cookies=tuple(session.cookies.items()),
        sent=tally[0],
        hint=_hint(ctx, reply),
    )


def operation_flow(ctx: Context, op: Operation, deadline: Deadline) -> Flow[OperationResult]:
    """Follow an operation to its end; emits the ``Operation`` as its status changes.

    Never raises for the operation's own fate: every end is an ``OperationResult``
    with one outcome (``error`` carries the jobctl error behind it).

    Args:
        ctx: the client context.
        op: from ``call_flow``, ``monitor_flow`` or a resume token.
        deadline: the overall deadline.
    """
    tally = [op.sent]
    last = op
    try:
        if op.dialect == "jobctl":
            outcome, status, result, error = yield from counted(
                _follow_job(ctx, op, deadline), tally
            )
        elif op.dialect == "done" and op.first is None:
            outcome, status, result, error = "succeeded", op.status, None, None
        else:
            gen = _follow_operation(ctx, op, deadline)
            outcome, status, result, error, last = yield from counted(gen, tally)
    except WaitTimeoutError as exc:
        return _ended(op, "timeout", last.status, None, None, tally, exc)
    except JobctlError as exc:
        if isinstance(exc, InvalidArgumentError):
            raise
        return _ended(op, "error", last.status, None, {"message": str(exc)}, tally, exc)
    return _ended(last, outcome, status, result, error, tally, None)


def _ended(
    op: Operation,
    outcome: Outcome,
    status: str | None,
    result: Any,
    error: Any,
    tally: list[int],
    exc: JobctlError | None,
) -> OperationResult:
    return OperationResult(
        outcome=outcome,
        status=status,
        result=result,
        error=error,
        requests=tally[0],
        dialect=op.dialect,
        resume_token=op.resume_token,
        exception=exc,
    )


def _follow_operation(
    ctx: Context, op: Operation, deadline: Deadline
) -> Flow[tuple[Outcome, str | None, Any, Any, Operation]]:
    session = _Session(ctx, op, deadline)
    start = op.start
    obs = op.first
    monitor = op.monitor
    long_wait = LONG_WAIT if op.dialect == "google" else 0
    attempt = 0
    hint: float | None = op.hint
    # The first answer's hint counts from when it arrived, not from when the wait began
    # (a token resumed later, or a wait after a cancel, does not sit out a stale hint).
    since = max(0.0, ctx.runtime.wall() - op.started) if op.started else 0.0
    held = long_wait > 0  # a long poll needs no pause before it: the server holds it
    while obs is None or not obs.terminal:
        if monitor is None:
            raise InvalidArgumentError(f"nothing to poll for a {op.dialect} operation")
        left = ctx.runtime.left(deadline)
        if obs is not None:
            if left is not None and left <= 0:
                raise WaitTimeoutError(None, deadline.seconds or 0.0)
            pause = 0.0
            if not (held and long_wait > 0):
                pause = next_delay(
                    ctx.policy,
                    attempt,
                    hint=None if hint is None else max(0.0, hint - since),
                    remaining=left,
                    rand=ctx.runtime.rand(),
                    hint_cap=HINT_CAP,
                )
                attempt += 1
            since = 0.0
            log.debug("operation %s: %s; next poll in %.2fs", safe_url(monitor), obs.status, pause)
            if pause > 0:
                yield from sleep(pause)
        wait = long_wait if left is None else min(long_wait, max(0, int(left) - 1))
        spec = poll(op.dialect, monitor, long_wait=wait if wait >= 1 else 0)
        asked = ctx.runtime.clock()
        reply = yield from session.send(
            session.request(
                spec.method, spec.url, json=spec.json, reads=True, long=wait if spec.long else 0
            )
        )
        # A long poll the server answered at once (it ignores the wait, or the answer was
        # an error) is paced like a plain poll next time; one it held needs no pause.
        held = bool(spec.long and wait >= 1 and ctx.runtime.clock() - asked >= min(wait, 1) / 2)
        if spec.long and reply.status in (400, 404, 405, 501):
            long_wait = 0  # no :wait here: plain GETs from now on
            obs = obs or Observation("running")
            hint = 0.0
            continue
        if reply.status >= 400 or reply.status in (301, 302, 307, 308):
            raise _refusal(reply)
        hint = _hint(ctx, reply)
        obs = observe(op.dialect, _answer(reply), where=f"{spec.method} {safe_url(spec.url)}")
        if obs.next_monitor is not None:
            monitor = obs.next_monitor
        op = replace(op, monitor=monitor, status=obs.status, progress=obs.progress)
        yield from emit(op)
    if obs.state == "failed" or obs.state == "cancelled":
        return obs.state, obs.status, None, obs.error, op
    where = final_request(start, op.method, op.url, obs)
    if where is None:
        return "succeeded", obs.status, inline_result(start, obs), None, op
    reply = yield from session.send(session.request("GET", where))
    if reply.status >= 400:
        raise _refusal(reply)
    return "succeeded", obs.status, _result(reply), None, op


def parse_or_none(reply: Reply) -> Any:
    """The decoded JSON body for hints, or None (hints never fail a poll)."""
    try:
        return parse_json(reply) if reply.body else None
    except JobctlError:
        return None


def _follow_job(
    ctx: Context, op: Operation, deadline: Deadline
) -> Flow[tuple[Outcome, str | None, Any, Any]]:
    """Our own dialect: the job follower (events, long polls), then the job's result."""
    assert op.monitor is not None
    url = op.monitor.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    target = Target(url.rsplit("/", 1)[-1], url, url + "/events")
    job = yield from follow_flow(ctx, target, deadline=deadline)
    assert isinstance(job, Job)
    outcome: Outcome = {
        JobStatus.COMPLETED: "succeeded",
        JobStatus.FAILED: "failed",
        JobStatus.CANCELLED: "cancelled",
    }.get(job.status, "error")  # type: ignore[call-overload]
    error = job.error.model_dump(mode="json") if job.error else None
    if outcome != "succeeded" or not job.result_url:
        return outcome, str(job.status), None, error
    where = resolve_url(url, job.result_url)
    reply = yield from request(ctx, ctx.request("GET", where))
    if reply.status >= 400:
        raise _refusal(reply)
    return outcome, str(job.status), _result(reply), None


def cancel_operation_flow(ctx: Context, op: Operation, deadline: Deadline) -> Flow[bool]:
    """Ask the server to cancel: Google ``:cancel``, ``DELETE`` on a location monitor or a
    job. False when the dialect has no way to cancel.

    Args:
        ctx: the client context.
        op: the operation.
        deadline: bounds the request.
    """
    session = _Session(ctx, op, deadline)
    if op.monitor is None:
        return False
    if op.dialect == "google":
        req = session.request("POST", op.monitor + ":cancel", json={})
    elif op.dialect in ("location", "jobctl"):
        req = session.request("DELETE", op.monitor)
    else:
        return False
    reply = yield from session.send(req)
    if reply.status >= 400:
        raise _refusal(reply)
    return True
