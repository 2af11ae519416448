"""The one transport-retry loop and the one deadline, driven as pure generators.

Every pause the SDK makes is a ``Sleep`` effect: a fake clock advanced only by
those sleeps sees all of them, so "the deadline holds" and "a POST without a key
is never sent twice" are checked for any script of failures.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl._core.context import Context, Runtime
from jobctl._core.deadline import NO_DEADLINE, Deadline, check_timeout
from jobctl._core.effects import Emit, Send, Sleep
from jobctl._core.flows.requests import request, send_keyed
from jobctl._core.http import Reply, Request, TransportFailure
from jobctl._core.notices import ConnectionEvent
from jobctl._core.polling import PollPolicy
from jobctl.errors import ConflictError, InvalidArgumentError

API = "http://api.test"


@pytest.mark.parametrize("good", [None, 0, 0.0, 5, 2.5, 10**9])
def test_timeouts_that_are_numbers_of_seconds(good: float | None) -> None:
    assert check_timeout(good) == (None if good is None else float(good))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1, -0.001, "5", True, [], b"1"])
def test_other_timeouts_are_one_clear_value_error(bad: Any) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        check_timeout(bad)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("timeout must be")
    assert "\n" not in str(info.value)


@given(
    timeout=st.none() | st.floats(min_value=0, max_value=1e6),
    start=st.floats(min_value=0, max_value=1e6),
    later=st.floats(min_value=0, max_value=2e6),
    pause=st.floats(min_value=0, max_value=1e7),
)
def test_a_deadline_is_one_instant(
    timeout: float | None, start: float, later: float, pause: float
) -> None:
    deadline = Deadline.after(timeout, start)
    now = start + later
    left = deadline.left(now)
    if timeout is None:
        assert left is None and not deadline.passed(now) and deadline.cap(pause, now) == pause
        return
    assert deadline.seconds == timeout and left is not None
    assert math.isclose(left, timeout - later, abs_tol=1e-6)
    assert deadline.passed(now) == (left <= 0)
    assert 0.0 <= deadline.cap(pause, now) <= max(0.0, left) + 1e-9


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_000_000.0 + self.now


failure = st.one_of(
    st.sampled_from(["connect", "timeout", "read", "protocol"]).map(lambda k: ("fail", k)),
    st.tuples(
        st.sampled_from([429, 500, 502, 503, 504]),
        st.none() | st.sampled_from(["0", "1", "3", "120", "-5", "soon", str(10**12)]),
    ).map(lambda s: ("status", s)),
)


def run(
    flow: Any, script: list[Any], clock: Clock, notices: list[ConnectionEvent] | None = None
) -> tuple[Any, list[float], int]:
    """Drive ``flow`` answering each Send from ``script`` (then 200); count sends, sleeps."""
    notices = [] if notices is None else notices
    sleeps: list[float] = []
    sends = 0
    value: Any = None
    error: BaseException | None = None
    answers = iter(script)
    try:
        while True:
            effect = flow.throw(error) if error is not None else flow.send(value)
            value, error = None, None
            if isinstance(effect, Send):
                sends += 1
                what = next(answers, ("status", (200, None)))
                if what[0] == "fail":
                    error = TransportFailure("no answer", kind=what[1])
                else:
                    status, after = what[1]
                    headers = {} if after is None else {"Retry-After": after}
                    value = Reply(status, httpx.Headers(headers), b"{}", effect.request.url)
            elif isinstance(effect, Sleep):
                assert effect.seconds >= 0
                sleeps.append(effect.seconds)
                clock.now += effect.seconds
            elif isinstance(effect, Emit) and isinstance(effect.value, ConnectionEvent):
                notices.append(effect.value)
            else:
                raise AssertionError(f"unexpected effect {effect!r}")
    except StopIteration as stop:
        return stop.value, sleeps, sends
    except TransportFailure as exc:
        return exc, sleeps, sends


@settings(max_examples=300, deadline=None)
@given(
    script=st.lists(failure, max_size=12),
    method=st.sampled_from(["GET", "DELETE", "POST"]),
    keyed=st.booleans(),
    timeout=st.none() | st.floats(min_value=0, max_value=60),
    max_retries=st.integers(min_value=0, max_value=6),
    rand=st.floats(min_value=0, max_value=0.999),
)
def test_the_retry_loop_keeps_its_promises(
    script: list[Any],
    method: str,
    keyed: bool,
    timeout: float | None,
    max_retries: int,
    rand: float,
) -> None:
    clock = Clock()
    ctx = Context(API, PollPolicy(), Runtime(clock.clock, clock.wall, lambda: rand), max_retries)
    deadline = Deadline.after(timeout, 0.0)
    req = Request(method, f"{API}/x", idempotent_key=keyed, deadline=deadline)
    notices: list[ConnectionEvent] = []
    outcome, sleeps, sends = run(request(ctx, req), script, clock, notices)
    # every retry is announced with the pause that follows; an answer after them says so
    lost = [n for n in notices if not n.ok]
    assert [n.retry_in for n in lost] == sleeps and all(n.reason for n in lost)
    back = isinstance(outcome, Reply) and outcome.status < 400 and sends > 1
    assert [n for n in notices if n.ok] == ([ConnectionEvent(ok=True)] if back else [])
    # retries: at most max_retries, and every one of them paused by a Sleep effect
    assert sends <= max_retries + 1
    assert len(sleeps) == sends - 1
    # the deadline holds: no pause reaches past it, no retry starts after it
    if timeout is not None:
        assert clock.now <= timeout + 1e-9
    # a POST that may have reached the server is sent again only with a key
    if method == "POST" and not keyed:
        sent_before = [s for s in script[: sends - 1] if s != ("fail", "connect")]
        assert sent_before == []
    # the outcome is the last answer: a Reply, or the TransportFailure of the last try
    last = script[sends - 1] if sends <= len(script) else ("status", (200, None))
    if last[0] == "fail":
        assert isinstance(outcome, TransportFailure) and outcome.kind == last[1]
    else:
        assert isinstance(outcome, Reply) and outcome.status == last[1][0]


def test_a_409_in_flight_is_retried_under_the_deadline_then_reported() -> None:
    clock = Clock()
    ctx = Context(API, PollPolicy(), Runtime(clock.clock, clock.wall, lambda: 0.5), 4)
    req = Request("POST", f"{API}/api/jobs", idempotent_key=True, deadline=Deadline.after(1.0, 0))
    script = [("status", (409, None))] * 20
    with pytest.raises(ConflictError):
        run(send_keyed(ctx, req, any_409_in_flight=True), script, clock)
    assert clock.now <= 1.0


def test_no_deadline_means_the_table_alone_bounds_retries() -> None:
    clock = Clock()
    ctx = Context(API, PollPolicy(), Runtime(clock.clock, clock.wall, lambda: 0.5), 4)
    req = Request("GET", f"{API}/x", deadline=NO_DEADLINE)
    outcome, sleeps, sends = run(request(ctx, req), [("status", (503, None))] * 10, clock)
    assert isinstance(outcome, Reply) and outcome.status == 503
    assert sends == 5 and sleeps == [0.375, 0.75, 1.5, 3.0]


@given(st.lists(st.booleans(), max_size=40))
def test_callers_hear_every_loss_and_one_return_per_outage(oks: list[bool]) -> None:
    from jobctl._core.notices import Outages

    outages = Outages()
    heard = [outages.feed(ConnectionEvent(ok=ok, reason="" if ok else "down")) for ok in oks]
    passed = [e for e in heard if e is not None]
    assert [e for e in passed if not e.ok] == [e for e in heard if e is not None and not e.ok]
    # a return is heard only right after losses, never twice in a row, never first
    for before, after in zip([None, *passed], passed, strict=False):
        if after.ok:
            assert before is not None and not before.ok
