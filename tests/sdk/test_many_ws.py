"""``wait_many`` / ``as_completed`` with ``strategy="ws"``: the WebSocket feed (``GET /api/ws``).

Against the real reference server (connections counted by its ``/api/_stats``, cuts made
by its ``sse-drop`` fault), a plain HTTP server that has no feed, and, for what a real
server does only under load (a refused subscribe, a ``1013`` close), the pure flow driven
by an in-memory feed.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from jobctl import (
    AsyncJobsClient,
    AuthError,
    InvalidArgumentError,
    JobEvent,
    JobsClient,
    NotFoundError,
    PollPolicy,
    ProtocolError,
    WaitTimeoutError,
)
from jobctl._core.context import Context, Runtime
from jobctl._core.effects import Close, Connect, Effect, Emit, Read, Sleep, Transmit
from jobctl._core.flows.many_ws import ws_many_flow
from jobctl._core.http import Reply, SocketClosed
from jobctl._core.refs import target_of
from jobctl.testing import ReferenceServer

from .conftest import API, job_body

FAST = PollPolicy(initial=0.1, factor=1.5, max_interval=0.5, jitter=0.1, long_poll=5)


# ---- against the reference server -----------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet", "--workers", "200")) as srv:
        yield srv


def routes(server: ReferenceServer) -> collections.Counter[str]:
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    stats = httpx.get(f"{server.url}/api/_stats", headers=admin).json()
    return collections.Counter(stats["routes"])


@pytest.mark.integration
def test_wait_many_over_one_websocket(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.token, poll=FAST) as c:
        before = c.submit("sleep", {"seconds": 0, "steps": 1})
        c.wait(before, timeout=30)
        jobs = [c.submit("sleep", {"seconds": 0.4, "steps": 4}) for _ in range(4)]
        failing = c.submit("fail", {"message": "boom", "retryable": False})
        ids = [before.job_id, *(j.job_id for j in jobs), failing.job_id]
        seen: list[JobEvent] = []
        counts = routes(server)
        done = c.wait_many(
            [before.job_id, *jobs, jobs[0], failing],
            timeout=30,
            strategy="ws",
            on_event=seen.append,
        )
        spent = routes(server) - counts
    assert [j.job_id for j in done] == [*ids[:5], jobs[0].job_id, ids[-1]]  # the order given
    assert [str(j.status) for j in done] == ["completed"] * 6 + ["failed"]
    assert done[-1].error is not None and done[-1].error.message == "boom"
    # one connection, no status reads: each `complete` carried the job's document
    assert spent == {"GET /api/ws": 1, "GET /api/_stats": 1}
    assert {e.job_id for e in seen} == set(ids)  # `before` had ended: its `complete` opens
    assert {e.source for e in seen} == {"ws"}
    completes = collections.Counter(e.job_id for e in seen if e.event == "complete")
    assert set(completes.values()) == {1}
    progress = [e for e in seen if e.event == "progress" and e.job_id == jobs[1].job_id]
    assert progress and all(e.job is not None and e.job.progress for e in progress)


@pytest.mark.integration
def test_as_completed_300_jobs_over_one_websocket_async(server: ReferenceServer) -> None:
    async def run() -> tuple[list[str], list[str], collections.Counter[str], float, int]:
        async with AsyncJobsClient(server.url, server.token, poll=FAST) as c:
            jobs = await asyncio.gather(
                *(c.submit("sleep", {"seconds": 0.2 + (i % 10) / 10}) for i in range(300))
            )
            counts = routes(server)
            started = time.monotonic()
            order = [j.job_id async for j in c.as_completed(jobs, timeout=60, strategy="ws")]
            took = time.monotonic() - started
            done = await c.wait_many(jobs, timeout=60, strategy="ws")  # all ended: snapshots
            ended = sum(j.is_terminal for j in done)
            return [j.job_id for j in jobs], order, routes(server) - counts, took, ended

    ids, order, spent, took, ended = asyncio.run(run())
    assert sorted(order) == sorted(ids) and len(order) == 300 and ended == 300
    assert spent == {"GET /api/ws": 2, "GET /api/_stats": 1}
    assert took < 20


@pytest.mark.integration
def test_cuts_are_resumed_without_losing_or_doubling_an_event(server: ReferenceServer) -> None:
    admin = httpx.Client(base_url=server.url, headers=server.headers("admin"))
    with JobsClient(server.url, server.token, poll=FAST) as c:
        jobs = [c.submit("sleep", {"seconds": 1.5, "steps": 3}) for _ in range(3)]
        body = {"faultRate": 1.0, "faults": ["sse-drop"], "faultSeed": 7}
        assert admin.put("/api/_faults", json=body).status_code == 200
        try:
            seen: list[JobEvent] = []
            counts = routes(server)
            done = c.wait_many(jobs, timeout=90, strategy="ws", on_event=seen.append)
            spent = routes(server) - counts
            injected = admin.get("/api/_faults").json()["injected"]["sse-drop"]
        finally:
            admin.put("/api/_faults", json={"faultRate": 0, "faults": [], "faultSeed": 1})
            admin.close()
    assert [str(j.status) for j in done] == ["completed"] * 3
    assert spent["GET /api/ws"] >= 3 and injected >= 2  # cut after 1-3 events each time
    completes = collections.Counter(e.job_id for e in seen if e.event == "complete")
    assert completes == {j.job_id: 1 for j in jobs}
    live = [(e.job_id, e.id, e.event) for e in seen if e.event != "status"]
    assert len(live) == len(set(live))  # resumed after the last position: nothing twice
    for job in jobs:  # nothing lost: after the first step heard, every step, in order
        steps = [
            e.data["current"] for e in seen if e.job_id == job.job_id and e.event == "progress"
        ]
        if steps:
            assert steps == list(range(steps[0], steps[0] + len(steps)))


@pytest.mark.integration
def test_another_users_job_is_not_found_as_wait_has_it(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.tokens["bob"]) as bob:
        theirs = bob.submit("sleep", {"seconds": 5})
    with JobsClient(server.url, server.token) as c:
        mine = c.submit("sleep", {"seconds": 5})
        with pytest.raises(NotFoundError) as wait_error:
            c.wait(theirs.job_id, timeout=10)
        with pytest.raises(NotFoundError) as many_error:
            c.wait_many([mine, theirs.job_id], timeout=10, strategy="ws")
    assert str(many_error.value) == str(wait_error.value)


@pytest.mark.integration
def test_the_deadline_ends_the_wait_with_each_jobs_last_snapshot(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.token) as c:
        jobs = [c.submit("sleep", {"seconds": 30}) for _ in range(3)]
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as caught:
            c.wait_many(jobs, timeout=1.0, strategy="ws")
        took = time.monotonic() - started
        for job in jobs:
            c.cancel(job)
    assert 0.9 < took < 3.0
    assert sorted(j.job_id for j in caught.value.jobs) == sorted(j.job_id for j in jobs)


@pytest.mark.integration
def test_a_bad_token_is_an_auth_error(server: ReferenceServer) -> None:
    with JobsClient(server.url, "not-a-token") as c, pytest.raises(AuthError):
        c.wait_many(["job_x"], timeout=10, strategy="ws")


@pytest.fixture
def no_feed() -> Iterator[str]:
    """A plain HTTP server: 404 for everything, the WebSocket upgrade included."""

    class NotFound(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = b'{"detail": "no such route"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/problem+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_server_without_the_feed_is_a_protocol_error(no_feed: str) -> None:
    with JobsClient(no_feed, "t") as c, pytest.raises(ProtocolError, match="no WebSocket feed"):
        c.wait_many(["a", "b"], timeout=10, strategy="ws")


def test_without_the_library_one_line_says_which_extra(
    no_feed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "websockets.sync.client", None)  # import -> ImportError
    monkeypatch.setitem(sys.modules, "websockets.asyncio.client", None)
    expected = "strategy='ws' needs the ws extra: pip install 'jobctl[ws]'"
    with JobsClient(no_feed, "t") as c, pytest.raises(InvalidArgumentError) as caught:
        c.wait_many(["a"], timeout=10, strategy="ws")
    assert str(caught.value) == expected

    async def run() -> None:
        async with AsyncJobsClient(no_feed, "t") as c:
            async for _ in c.as_completed(["a"], timeout=10, strategy="ws"):
                pass

    with pytest.raises(InvalidArgumentError, match="needs the ws extra"):
        asyncio.run(run())


def test_an_unknown_strategy_is_refused() -> None:
    with JobsClient(API, "t") as c, pytest.raises(InvalidArgumentError, match="'ws'"):
        c.wait_many(["a"], strategy="websocket")  # type: ignore[arg-type]


# ---- the pure flow, driven by an in-memory feed ---------------------------------------


class Feed:
    """The server side of ``/api/ws``, as far as these tests need it.

    A subscribe gets a ``status`` snapshot per job (or an ``error`` naming its ``ref``
    when the connection would follow more than ``limit``); whenever the client reads
    and nothing is queued, the oldest followed job completes. ``close_after``: the first
    connection is closed with 1013 after that many messages.
    """

    def __init__(self, limit: int = 10_000, close_after: int | None = None) -> None:
        self.limit = limit
        self.close_after = close_after
        self.connections = 0
        self.seq = 0
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.sleeps: list[float] = []
        self.followed: dict[str, None] = {}
        self.out: deque[dict[str, Any]] = deque()
        self.delivered = 0

    def perform(self, effect: Effect) -> Any:
        if isinstance(effect, Connect):
            self.connections += 1
            self.followed, self.out, self.delivered = {}, deque(), 0
            return Reply(101, httpx.Headers(), url=effect.request.url, stream=self.connections)
        if isinstance(effect, Transmit):
            self.take(json.loads(effect.text))
            return None
        if isinstance(effect, Read):
            if self.connections == 1 and self.delivered == self.close_after:
                return SocketClosed(1013, "too slow to read; reconnect and resume")
            if not self.out:
                assert self.followed, "the client reads with nothing left to say"
                jid = next(iter(self.followed))
                del self.followed[jid]
                self.seq += 1
                data = {"jobId": jid, "status": "completed", "job": job_body(jid, "completed")}
                self.out.append({"event": "complete", "id": self.seq, "jobId": jid, "data": data})
            self.delivered += 1
            return json.dumps(self.out.popleft())
        if isinstance(effect, Sleep):
            self.sleeps.append(effect.seconds)
            return None
        if isinstance(effect, Close):
            return None
        raise AssertionError(f"unexpected effect {effect!r}")

    def take(self, message: dict[str, Any]) -> None:
        self.received.append((self.connections, message))
        if message["op"] != "subscribe":
            return
        jobs = message["jobs"]
        if len(self.followed) + len(jobs) > self.limit:
            error = f"a connection follows at most {self.limit} jobs"
            self.out.append(
                {"event": "error", "error": error, "status": 400, "ref": message["ref"]}
            )
            return
        for jid in jobs:
            self.followed[jid] = None
            data = {"jobId": jid, "status": "processing"}
            self.out.append({"event": "status", "id": self.seq, "jobId": jid, "data": data})


def drive(feed: Feed, ids: list[str]) -> dict[str, Any]:
    ctx = Context(API, FAST, Runtime(rand=lambda: 0.5), 4)
    targets = [target_of(ctx, jid)[1] for jid in ids]
    flow = ws_many_flow(ctx, targets, deadline=ctx.runtime.deadline(None))
    value: Any = None
    while True:
        try:
            effect = flow.send(value)
        except StopIteration as stop:
            return dict(stop.value)
        value = None if isinstance(effect, Emit) else feed.perform(effect)


def subscribes(feed: Feed) -> list[tuple[int, list[str]]]:
    return [(conn, m["jobs"]) for conn, m in feed.received if m["op"] == "subscribe"]


def test_jobs_are_subscribed_in_batches_and_a_lower_limit_is_learnt() -> None:
    ids = [f"j{i}" for i in range(2_500)]
    feed = Feed(limit=1_500)
    ended = drive(feed, ids)
    assert sorted(ended) == sorted(ids) and feed.connections == 1
    sent = subscribes(feed)
    assert max(len(jobs) for _, jobs in sent) == 1_000  # never one message of every id
    assert [len(jobs) for _, jobs in sent[:3]] == [1_000, 1_000, 500]  # the 2nd is refused
    subscribed = [jid for _, jobs in sent for jid in jobs]
    assert collections.Counter(subscribed)[ids[1_000]] == 2  # sent again once there was room
    assert sorted(set(subscribed)) == sorted(ids)


def test_a_1013_close_resumes_after_the_last_position_with_the_jobs_still_running() -> None:
    ids = [f"j{i}" for i in range(5)]
    feed = Feed(close_after=7)  # 5 snapshots, 2 completes, then 1013
    ended = drive(feed, ids)
    assert sorted(ended) == ids and feed.connections == 2
    second = [m for conn, m in feed.received if conn == 2]
    assert second[0] == {"op": "resume", "lastEventId": 2}  # the highest position heard
    assert second[1]["op"] == "subscribe" and second[1]["jobs"] == ids[2:]
    assert feed.sleeps == [1.0]  # stream_drop's first pause (the connection was not idle)
