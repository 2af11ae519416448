"""Many jobs on one connection, against real servers on both stores: ``GET /api/events``
(multiplexed SSE) and ``GET /api/ws`` (the same feed over a WebSocket).

Every stream passes ``muxtools.check_feed``: ids increase across jobs, each job's
steps come once each, and each job ends with one ``complete`` carrying its full
document; a cut connection healed with ``Last-Event-ID`` or ``resume`` still passes
it. Another user's jobs never appear, and naming one is refused exactly like naming
a job that does not exist. Faults, slow readers and several processes: test_mux_faults.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobctl.testing import ReferenceServer

from .conftest import STORES, assert_problem, client, store_server, submit, wait_terminal
from .muxtools import check_feed, completes, read_sse, ws_collect, ws_connect, ws_send

pytestmark = pytest.mark.integration

ARGS = ("--quiet", "--workers", "8", "--keepalive", "1")


@pytest.fixture(scope="module", params=STORES)
def srv(request: pytest.FixtureRequest) -> Iterator[ReferenceServer]:
    with store_server(request, args=ARGS) as s:
        yield s


@pytest.fixture(scope="module")
def c(srv: ReferenceServer) -> Iterator[httpx.Client]:
    with client(srv) as alice:
        yield alice


@pytest.fixture(scope="module")
def bob(srv: ReferenceServer) -> Iterator[httpx.Client]:
    with client(srv, "bob") as b:
        yield b


def _sleepers(c: httpx.Client, n: int, seconds: float = 0.8, steps: int = 4) -> list[str]:
    return [submit(c, "sleep", seconds=seconds, steps=steps) for _ in range(n)]


# ---- GET /api/events -------------------------------------------------------------------
def test_named_stream_ids_increase_and_every_job_ends_with_its_document(
    c: httpx.Client,
) -> None:
    jobs = [*_sleepers(c, 3), submit(c, "echo", hello="world"), submit(c, "fail")]
    status, events = read_sse(c, {"job": jobs})
    assert status == 200
    check_feed(events, set(jobs))
    assert events[0].retry is not None  # retry: first
    ended = {e.data["jobId"]: e.data for e in events if e.event == "complete"}
    assert ended[jobs[3]]["job"]["output"] == {"hello": "world"}
    assert ended[jobs[4]]["status"] == "failed" and ended[jobs[4]]["error"]


@pytest.mark.parametrize("cut_after", [1, 5])
def test_last_event_id_heals_a_cut_stream_without_loss_or_double(
    c: httpx.Client, cut_after: int
) -> None:
    jobs = _sleepers(c, 3, seconds=1.0, steps=5)
    _, first = read_sse(c, {"job": jobs}, stop=lambda got: len(got) >= cut_after)
    assert len(first) == cut_after
    last = {"Last-Event-ID": str(first[-1].id)}
    status, rest = read_sse(c, {"job": jobs}, headers=last)
    assert status == 200
    check_feed(first + rest, set(jobs))


def test_ended_streams_answer_204_and_foreign_positions_get_snapshots(c: httpx.Client) -> None:
    jobs = [submit(c, "echo", n=1), submit(c, "echo", n=2)]
    for job in jobs:
        wait_terminal(c, job)
    _, events = read_sse(c, {"job": jobs})
    assert [e.event for e in events] == ["complete", "complete"]  # ended jobs: complete only
    assert read_sse(c, {"job": jobs}, headers={"Last-Event-ID": events[-1].id or ""})[0] == 204
    for garbage in ("abc", "99999999999"):  # not ours, or never issued: a fresh snapshot
        status, again = read_sse(c, {"job": jobs}, headers={"Last-Event-ID": garbage})
        assert status == 200 and [e.id for e in again] == [e.id for e in events]


def test_naming_another_users_job_is_the_same_404_as_an_unknown_one(
    c: httpx.Client, bob: httpx.Client
) -> None:
    alices = submit(c, "echo")
    bobs = submit(bob, "echo")
    unknown = "00000000-0000-4000-8000-000000000000"
    foreign = assert_problem(bob.get("/api/events", params={"job": [bobs, alices]}), 404)
    missing = assert_problem(bob.get("/api/events", params={"job": [bobs, unknown]}), 404)
    assert foreign["detail"].replace(alices, "X") == missing["detail"].replace(unknown, "X")
    assert set(foreign) == set(missing)
    assert_problem(c.get("/api/events", params={"job": ["x" * 101] * 2}), 404)
    assert_problem(c.get("/api/events", params={"job": ["x"] * 10_001}), 400)  # at most 10,000


def test_all_streams_show_new_jobs_and_never_another_users(
    c: httpx.Client, bob: httpx.Client
) -> None:
    made: list[str] = []

    def submit_now() -> None:
        made.append(submit(bob, "echo", secret=1))
        made.append(submit(c, "sleep", seconds=0.3, steps=2))

    status, events = read_sse(
        c, None, on_open=submit_now, stop=lambda got: completes({made[1]})(got)
    )
    assert status == 200
    seen = {e.data["jobId"] for e in events}
    assert made[0] not in seen
    ours = [e for e in events if e.data["jobId"] == made[1]]
    assert ours[0].event == "status" and ours[-1].event == "complete"
    check_feed(ours, {made[1]})


def test_all_streams_filter_by_type_and_status(c: httpx.Client) -> None:
    made: list[str] = []

    def submit_now() -> None:
        made.extend([submit(c, "sleep", seconds=0.2), submit(c, "fail"), submit(c, "echo")])

    _, by_type = read_sse(
        c, {"type": "echo"}, on_open=submit_now, stop=lambda got: completes({made[2]})(got)
    )
    assert {e.data["jobId"] for e in by_type} == {made[2]}
    last = by_type[-1].id or ""
    _, done = read_sse(
        c,
        {"status": ["completed"]},
        headers={"Last-Event-ID": str(max(0, int(last) - 50))},  # replays the last 50
        stop=lambda got: completes({made[0]})(got),
    )
    assert {e.event for e in done} == {"complete"} and {e.data["status"] for e in done} == {
        "completed"
    }
    assert made[1] not in {e.data["jobId"] for e in done}  # failed: filtered out


# ---- GET /api/ws -----------------------------------------------------------------------
def test_ws_feed_matches_the_sse_feed(srv: ReferenceServer, c: httpx.Client) -> None:
    jobs = [*_sleepers(c, 2), submit(c, "echo")]
    with ws_connect(srv) as ws:
        ws_send(ws, op="subscribe", jobs=jobs)
        got = ws_collect(ws, completes(set(jobs)))
    check_feed(got, set(jobs), strict_ids=False)
    assert all(set(m) == {"event", "id", "jobId", "data"} for m in got)


def test_ws_refuses_bad_messages_and_stays_usable(
    srv: ReferenceServer, c: httpx.Client, bob: httpx.Client
) -> None:
    job = submit(c, "echo")
    unknown = "00000000-0000-4000-8000-000000000000"
    bad: list[Any] = [
        "not json {",
        json.dumps([1, 2]),
        json.dumps({"op": "explode", "ref": "r1"}),
        json.dumps({"op": "subscribe", "jobs": "abc"}),
        json.dumps({"op": "subscribe", "jobs": [1, 2]}),
        json.dumps({"op": "subscribe", "jobs": ["j"] * 100_000, "ref": 3}),
        json.dumps({"op": "subscribe", "all": True, "status": ["nope"]}),
        json.dumps({"op": "cancel"}),
        json.dumps({"op": "resume", "lastEventId": -1}),
        b"\x00binary",
    ]
    with ws_connect(srv, "bob") as ws:
        for message in bad:
            ws.send(message)
            error = json.loads(ws.recv(timeout=10))
            assert error["event"] == "error" and error["status"] == 400 and error["error"], error
        ws_send(ws, op="subscribe", jobs=[job, unknown], ref="x")
        foreign, missing = (json.loads(ws.recv(timeout=10)) for _ in range(2))
        assert foreign == {**missing, "jobId": job, "error": missing["error"].replace(unknown, job)}
        assert foreign["status"] == 404 and foreign["ref"] == "x"
        ws_send(ws, op="cancel", jobId=job)  # another user's: refused, no oracle either
        assert json.loads(ws.recv(timeout=10))["status"] == 404
        mine = submit(bob, "echo")
        ws_send(ws, op="subscribe", jobs=[mine])  # still usable
        got = ws_collect(ws, completes({mine}))
    check_feed(got, {mine}, strict_ids=False)


def test_ws_all_cancel_and_unsubscribe(
    srv: ReferenceServer, c: httpx.Client, bob: httpx.Client
) -> None:
    with ws_connect(srv) as ws:
        ws_send(ws, op="subscribe", all=True)
        long = submit(c, "sleep", seconds=30, steps=30)
        bobs = submit(bob, "echo")
        ws_collect(ws, lambda got: any(m["jobId"] == long for m in got))
        ws_send(ws, op="cancel", jobId=long)
        got = ws_collect(ws, completes({long}))
        assert got[-1]["data"]["status"] == "cancelled"
        ws_send(ws, op="cancel", jobId=long)  # cancelled again: fine, nothing to say
        done = submit(c, "echo")
        wait_terminal(c, done)
        ws_send(ws, op="cancel", jobId=done, ref=9)
        refused = ws_collect(ws, lambda got: any(m["event"] == "error" for m in got))[-1]
        assert refused["status"] == 409 and refused["ref"] == 9
        ws_send(ws, op="unsubscribe", all=True)
        quiet = submit(c, "echo")
        wait_terminal(c, quiet)
        ws_send(ws, op="subscribe", jobs=[quiet])  # an ended job: its complete, at once
        last = ws_collect(ws, completes({quiet}))
    assert bobs not in {m.get("jobId") for m in got + last}
    assert all(m["jobId"] in (long, done, quiet) for m in got + last if m["event"] != "error")


def test_ws_all_with_filters(srv: ReferenceServer, c: httpx.Client) -> None:
    with ws_connect(srv) as ws:
        ws_send(ws, op="subscribe", all=True, type="sleep", status=["completed", "failed"])
        made = [submit(c, "echo"), submit(c, "sleep", seconds=0.2), submit(c, "fail")]
        got = ws_collect(ws, completes({made[1]}))
    assert [(m["event"], m["jobId"]) for m in got] == [("complete", made[1])]


def test_ws_resume_heals_a_cut_connection(srv: ReferenceServer, c: httpx.Client) -> None:
    jobs = _sleepers(c, 3, seconds=1.0, steps=5)
    with ws_connect(srv) as ws:
        ws_send(ws, op="subscribe", jobs=jobs)
        first = ws_collect(ws, lambda got: len(got) >= 6)
    ended = {m["jobId"] for m in first if m["event"] == "complete"}
    with ws_connect(srv) as ws:
        ws_send(ws, op="resume", lastEventId=first[-1]["id"])
        ws_send(ws, op="subscribe", jobs=[j for j in jobs if j not in ended])
        rest = ws_collect(ws, completes(set(jobs) - ended))
    check_feed(first + rest, set(jobs), strict_ids=False)
    assert all(m["id"] >= first[-1]["id"] for m in rest)
