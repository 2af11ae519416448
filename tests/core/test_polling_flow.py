"""The poll loop as a pure generator: any server answers, the deadline always holds.

The flows are driven here directly (no HTTP, no clock, no sleeping): every
``Send`` is answered from a hypothesis-chosen script of hostile status answers.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl._core.context import Context, Runtime
from jobctl._core.deadline import Deadline
from jobctl._core.effects import Emit, Send, Sleep
from jobctl._core.flows.follow import Update, follow_flow
from jobctl._core.http import Reply
from jobctl._core.polling import MIN_DELAY, PollPolicy
from jobctl._core.refs import Target
from jobctl.models import WaitTimeoutError

API = "http://api.test"

retry_after = st.none() | st.sampled_from(
    ["0", "1", "-1", "5", "3600", str(10**12), "soon", "Fri, 15 Jan 2027 08:16:50 GMT", ""]
)
answer = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["pending", "processing", "processing", "mystery"]),
        "current": st.integers(min_value=0, max_value=5),
        "retry_after": retry_after,
        "body_hint": st.none() | st.floats(min_value=-5, max_value=1e6),
        "applied": st.booleans(),
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_001_000.0 + self.now


def reply_for(a: dict[str, Any], wait_header: str | None) -> Reply:
    body: dict[str, Any] = {
        "jobId": "j1",
        "status": a["status"],
        "progress": {"current": a["current"], "total": 5},
    }
    if a["body_hint"] is not None:
        body["retryAfter"] = a["body_hint"]
    headers = {}
    if a["retry_after"] is not None:
        headers["Retry-After"] = a["retry_after"]
    if a["applied"] and wait_header:
        headers["Preference-Applied"] = wait_header
    return Reply(200, httpx.Headers(headers), json.dumps(body).encode(), f"{API}/api/jobs/j1")


@settings(max_examples=150, deadline=None)
@given(
    script=st.lists(answer, min_size=1, max_size=40),
    timeout=st.floats(min_value=0.0, max_value=120.0),
    long_poll=st.sampled_from([0.0, 5.0, 30.0]),
    rand=st.floats(min_value=0.0, max_value=0.999),
)
def test_polls_never_overrun_the_deadline(
    script: list[dict[str, Any]], timeout: float, long_poll: float, rand: float
) -> None:
    clock = Clock()
    policy = PollPolicy(initial=0.5, factor=2.0, max_interval=10.0, jitter=0.2, long_poll=long_poll)
    ctx = Context(API, policy, Runtime(clock.clock, clock.wall, lambda: rand), 4)
    target = Target("j1", f"{API}/api/jobs/j1", f"{API}/api/jobs/j1/events")
    flow = follow_flow(ctx, target, deadline=Deadline.after(timeout, 0.0), strategy="poll")
    sleeps: list[float] = []
    updates: list[Update] = []
    answers = iter([*script, {**script[-1], "status": "completed"}])
    value: Any = None
    try:
        while True:
            effect = flow.send(value)
            value = None
            if isinstance(effect, Send):
                req = effect.request
                assert req.deadline.at == timeout  # the clock started at 0
                if req.read_timeout is not None:
                    assert req.read_timeout > policy.long_poll or "prefer" in {
                        k.lower() for k in req.headers
                    }
                value = reply_for(next(answers), req.headers.get("Prefer"))
            elif isinstance(effect, Sleep):
                assert effect.seconds >= 0
                assert effect.seconds <= policy.max_interval
                if timeout - clock.now >= MIN_DELAY:
                    assert effect.seconds >= MIN_DELAY
                sleeps.append(effect.seconds)
                clock.now += effect.seconds
            elif isinstance(effect, Emit):
                updates.append(effect.value)
            else:
                raise AssertionError(f"a poll flow yielded {effect!r}")
    except StopIteration as stop:
        assert stop.value is not None and stop.value.status == "completed"
    except WaitTimeoutError as exc:
        assert clock.now >= timeout
        assert exc.job is None or exc.job.job_id == "j1"
    assert clock.now <= timeout + 1e-9
    assert all(u.changed for u in updates if u.event.event != "complete")
