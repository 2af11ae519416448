"""Many jobs at once: ``wait_many`` / ``as_completed`` over one multiplexed stream.

Against the real reference server (connections counted by its ``/api/_stats``),
and with respx for the exact wire behaviour of a server without the stream.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from jobctl import (
    AsyncJobsClient,
    InvalidArgumentError,
    JobEvent,
    JobsClient,
    NotFoundError,
    PollPolicy,
    ProtocolError,
    WaitTimeoutError,
)
from jobctl._core.flows.many import URL_BUDGET
from jobctl.testing import ReferenceServer

from .conftest import API, FakeTime, job_body, problem, sse, sse_response

pytestmark = pytest.mark.integration

FAST = PollPolicy(initial=0.1, factor=1.5, max_interval=0.5, jitter=0.1, long_poll=5)


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet", "--keepalive", "1", "--workers", "500")) as srv:
        yield srv


def routes(server: ReferenceServer) -> collections.Counter[str]:
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    stats = httpx.get(f"{server.url}/api/_stats", headers=admin).json()
    return collections.Counter(stats["routes"])


def test_wait_many_on_one_stream_ends_with_each_jobs_document(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.token, poll=FAST) as c:
        before = c.submit("sleep", {"seconds": 0, "steps": 1})
        c.wait(before, timeout=30)
        jobs = [c.submit("sleep", {"seconds": 0.4, "steps": 4}) for _ in range(4)]
        failing = c.submit("fail", {"message": "boom", "retryable": False})
        ids = [before.job_id, jobs[0].job_id, *(j.job_id for j in jobs), failing.job_id]
        seen: list[JobEvent] = []
        counts = routes(server)
        done = c.wait_many(
            [before.job_id, jobs[0], *jobs, failing], timeout=30, on_event=seen.append
        )
        spent = routes(server) - counts
    assert [j.job_id for j in done] == ids  # the order given, duplicates answered twice
    assert [str(j.status) for j in done] == ["completed"] * 6 + ["failed"]
    assert done[-1].error is not None and done[-1].error.message == "boom"
    assert all(j.result_url for j in done[:6])
    # one stream, no status reads: `complete` carried each job's document
    assert spent["GET /api/events"] == 1 and spent["GET /api/_stats"] == 1
    assert set(spent) == {"GET /api/events", "GET /api/_stats"}
    assert {e.job_id for e in seen} == set(ids)  # `before` had ended: its `complete` opens
    completes = collections.Counter(e.job_id for e in seen if e.event == "complete")
    assert set(completes.values()) == {1}
    progress = [e for e in seen if e.event == "progress" and e.job_id == jobs[1].job_id]
    assert progress and all(e.job is not None and e.job.progress for e in progress)


def test_as_completed_beyond_one_url_probes_and_follows_the_all_stream(
    server: ReferenceServer,
) -> None:
    async def run() -> tuple[list[str], list[str], collections.Counter[str]]:
        async with AsyncJobsClient(server.url, server.token, poll=FAST) as c:
            ended = await c.submit("sleep", {"seconds": 0, "steps": 1})
            await c.wait(ended, timeout=30)
            jobs = [ended]
            for _ in range(300):  # 300 uuids: three URLs' worth
                jobs.append(await c.submit("sleep", {"seconds": 1, "steps": 2}))
            counts = routes(server)
            order = [j.job_id async for j in c.as_completed(jobs, timeout=60)]
            return [j.job_id for j in jobs], order, routes(server) - counts

    given, order, spent = asyncio.run(run())
    assert sorted(order) == sorted(given) and len(order) == len(set(order))
    assert order[0] == given[0]  # it had ended before: first out
    per_url = URL_BUDGET // len("job=&" + given[0])
    probes = -(-len(given) // per_url)
    # the all stream, and a short probe per URL's worth of jobs; never a status read
    assert spent["GET /api/events"] <= 1 + probes + 1, spent
    assert "GET /api/jobs/{id}" not in spent


def test_a_cut_stream_resumes_and_no_event_is_lost_or_doubled() -> None:
    args = ("--quiet", "--workers", "50", "--faults", "sse-drop", "--fault-rate", "0.7")
    with ReferenceServer(args=(*args, "--fault-seed", "3")) as srv:
        with JobsClient(srv.url, srv.token, poll=FAST) as c:
            jobs = [c.submit("sleep", {"seconds": 0.6, "steps": 6}) for _ in range(4)]
            seen: list[JobEvent] = []
            done = c.wait_many(jobs, timeout=60, on_event=seen.append)
        injected = httpx.get(
            f"{srv.url}/api/_faults", headers={"Authorization": f"Bearer {srv.admin_token}"}
        ).json()["injected"]
    assert injected.get("sse-drop", 0) >= 1
    assert all(str(j.status) == "completed" for j in done)
    completes = collections.Counter(e.job_id for e in seen if e.event == "complete")
    assert completes == {j.job_id: 1 for j in jobs}
    ids = [int(e.id) for e in seen if e.id is not None]
    assert len(ids) == len(set(ids))  # resumed from Last-Event-ID: nothing twice


def test_the_deadline_names_every_unfinished_job(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.token, poll=FAST) as c:
        quick = c.submit("sleep", {"seconds": 0, "steps": 1})
        slow = [c.submit("sleep", {"seconds": 30, "steps": 3}) for _ in range(2)]
        with pytest.raises(WaitTimeoutError) as caught:
            c.wait_many([quick, *slow], timeout=1.0)
        for job in slow:
            c.cancel(job)
    err = caught.value
    assert {j.job_id for j in err.jobs} == {j.job_id for j in slow}
    assert err.job is not None and "2 jobs are still running" in str(err)


def test_an_unknown_job_is_not_found_like_wait(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.token, poll=FAST) as c:
        job = c.submit("sleep", {"seconds": 0, "steps": 1})
        with pytest.raises(NotFoundError):
            c.wait_many([job, "no-such-job"], timeout=10)
        with pytest.raises(InvalidArgumentError):
            c.wait_many(job.job_id, timeout=10)  # a string is not a list of jobs


def test_another_users_job_is_not_found_either(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.token) as alice:
        job = alice.submit("sleep", {"seconds": 0, "steps": 1})
    with JobsClient(server.url, server.tokens["bob"]) as bob, pytest.raises(NotFoundError):
        bob.wait_many([job.job_id], timeout=10)


# -- exact wire behaviour (respx) ---------------------------------------------------------


def test_a_server_without_the_stream_has_its_jobs_polled_in_turns(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.get(f"{API}/api/events").mock(return_value=problem(404))
    a = mock.get(f"{API}/api/jobs/a").mock(
        side_effect=[
            httpx.Response(200, json=job_body("a", "processing"), headers={"Retry-After": "3"}),
            httpx.Response(200, json=job_body("a", "completed", resultUrl="/r/a")),
        ]
    )
    b = mock.get(f"{API}/api/jobs/b").mock(
        return_value=httpx.Response(200, json=job_body("b", "failed"))
    )
    done = client.wait_many(["a", "b"], timeout=60)
    assert [str(j.status) for j in done] == ["completed", "failed"]
    assert a.call_count == 2 and b.call_count == 1  # an ended job is not read again
    assert fake_time.sleeps == [3.0]  # one pause per round, the server's hint


def test_strategy_sse_without_the_stream_is_a_protocol_error(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{API}/api/events").mock(return_value=problem(405))
    with pytest.raises(ProtocolError, match="multiplexed event stream"):
        client.wait_many(["a"], timeout=60, strategy="sse")


def test_the_stream_names_the_jobs_and_only_theirs_count(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    body = sse(
        ("1", "status", {"jobId": "a", "status": "processing"}),
        ("2", "status", {"jobId": "zz", "status": "processing"}),  # not ours: ignored
        ("3", "complete", {"jobId": "a", "status": "completed", "job": job_body("a", "completed")}),
        ("4", "complete", {"jobId": "b", "status": "failed", "job": job_body("b", "failed")}),
    )
    route = mock.get(f"{API}/api/events").mock(return_value=sse_response(body))
    seen: list[Any] = []
    done = client.wait_many(["a", "b"], timeout=60, on_event=seen.append)
    assert [str(j.status) for j in done] == ["completed", "failed"]
    assert route.calls[0].request.url.query == b"job=a&job=b"
    assert [e.job_id for e in seen] == ["a", "a", "b"]


def test_a_complete_without_the_document_reads_the_status_once(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    body = sse(("7", "complete", {"jobId": "a", "status": "completed", "resultUrl": "/r/a"}))
    mock.get(f"{API}/api/events").mock(return_value=sse_response(body))
    status = mock.get(f"{API}/api/jobs/a").mock(
        return_value=httpx.Response(200, json=job_body("a", "completed", resultUrl="/r/a"))
    )
    (done,) = client.wait_many(["a"], timeout=60)
    assert str(done.status) == "completed" and status.call_count == 1


def test_watch_sees_jobs_submitted_after_it_opened_and_only_the_callers(
    server: ReferenceServer,
) -> None:
    async def run() -> tuple[list[JobEvent], list[str]]:
        async with (
            AsyncJobsClient(server.url, server.token, poll=FAST) as alice,
            AsyncJobsClient(server.url, server.tokens["bob"], poll=FAST) as bob,
        ):
            seen: list[JobEvent] = []
            mine: list[str] = []

            async def submit_later() -> None:
                await asyncio.sleep(0.3)
                await bob.submit("echo", {"x": 1})  # another user's: never seen
                for _ in range(2):
                    mine.append((await alice.submit("sleep", {"seconds": 0.2})).job_id)

            task = asyncio.ensure_future(submit_later())
            async for event in alice.watch(type="sleep"):
                seen.append(event)
                ended = {e.job_id for e in seen if e.event == "complete"}
                if mine and ended >= set(mine):
                    break
            await task
            return seen, mine

    seen, mine = asyncio.run(asyncio.wait_for(run(), timeout=30))
    assert {e.job_id for e in seen} >= set(mine)
    assert all(e.job_id is not None for e in seen)
    bobs = [e for e in seen if e.data.get("type") == "echo"]
    assert not bobs
    ids = [int(e.id) for e in seen if e.id is not None]
    assert ids == sorted(set(ids))


def test_watch_without_the_stream_is_a_protocol_error(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{API}/api/events").mock(return_value=problem(404))
    with pytest.raises(ProtocolError, match="no stream of all your jobs"):
        next(iter(client.watch()))
