"""Following a dropping event stream, as a pure generator: every event once, in order.

A simulated server replays the events after ``Last-Event-ID`` (sometimes repeating
the last one already seen, as a resume may) and drops each connection after a
hypothesis-chosen number of events, with the bytes split at arbitrary points.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl._core.context import Context, Runtime
from jobctl._core.deadline import Deadline
from jobctl._core.effects import Close, Emit, Open, Read, Send, Sleep
from jobctl._core.flows.follow import Update, follow_flow
from jobctl._core.http import Reply
from jobctl._core.polling import PollPolicy
from jobctl._core.refs import Target

API = "http://api.test"


def event_bytes(n: int, total: int) -> bytes:
    if n == 1:
        name, data = "status", {"status": "processing", "progress": {"current": 0, "total": total}}
    elif n == total + 2:
        name, data = "complete", {"status": "completed"}
    else:
        name, data = "progress", {"current": n - 1, "total": total}
    return f"id: {n}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode()


class Stream:
    def __init__(self, data: bytes, cuts: list[int]) -> None:
        points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
        self.chunks = [data[a:b] for a, b in itertools.pairwise(points) if b > a]

    def read(self) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


@settings(max_examples=200, deadline=None)
@given(
    steps=st.integers(min_value=0, max_value=8),
    per_connection=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=30),
    repeat_last=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_each_event_is_seen_once_in_order(
    steps: int, per_connection: list[int], repeat_last: bool, cuts: list[int]
) -> None:
    now = [0.0]
    ctx = Context(
        API,
        PollPolicy(long_poll=0),
        Runtime(lambda: now[0], lambda: 1e9 + now[0], lambda: 0.5),
        4,
    )
    target = Target("j1", f"{API}/api/jobs/j1", f"{API}/api/jobs/j1/events")
    flow = follow_flow(
        ctx, target, deadline=Deadline.after(None, 0.0), strategy="auto", final=False
    )
    last_id = 3 + steps - 1  # ids 1..steps+2: status, progress*steps, complete
    connections = iter(per_connection)
    seen: list[str | None] = []
    polled = False
    value: Any = None
    while True:
        try:
            effect = flow.send(value)
        except StopIteration:
            break
        value = None
        if isinstance(effect, Open):
            resume = effect.request.headers.get("Last-Event-ID")
            start = int(resume) + 1 if resume else 1
            if repeat_last and resume:
                start -= 1  # a resume that repeats the last event: must be dropped
            if start > last_id:
                value = Reply(204, httpx.Headers())
                continue
            count = next(connections, 99)
            body = b"retry: 100\n\n" + b"".join(
                event_bytes(n, steps) for n in range(start, min(last_id, start + count - 1) + 1)
            )
            value = Reply(
                200, httpx.Headers({"content-type": "text/event-stream"}), stream=Stream(body, cuts)
            )
        elif isinstance(effect, Read):
            value = effect.stream.read()
        elif isinstance(effect, Sleep):
            assert 0 <= effect.seconds <= 30
            now[0] += effect.seconds
        elif isinstance(effect, Send):  # fell back to polling
            polled = True
            body = {"jobId": "j1", "status": "completed"}
            value = Reply(200, httpx.Headers(), json.dumps(body).encode(), effect.request.url)
        elif isinstance(effect, Emit):
            update: Update = effect.value
            seen.append(update.event.id)
        else:
            assert isinstance(effect, Close)
    sse_ids = [int(i) for i in seen if i is not None]
    assert sse_ids == sorted(set(sse_ids)), "an event was seen twice or out of order"
    if not polled:
        assert sse_ids == list(range(1, last_id + 1))
    else:
        assert seen[-1] is None  # the end was learnt from a poll
