"""``client.events_ticket()``: the ticketed events URL for a browser (SDK.md "Browsers")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import respx

from jobctl import InvalidArgumentError, Job, JobsClient, ProtocolError
from jobctl.testing import ReferenceServer

from .conftest import API, TOKEN, FakeTime, make_async

TICKET = {"url": f"{API}/api/jobs/j1/events?ticket=1.YQ.x", "expiresAt": "2026-01-01T00:00:00Z"}


def test_one_job_posts_to_its_own_ticket_route(client: JobsClient, mock: respx.MockRouter) -> None:
    route = mock.post(f"{API}/api/jobs/j1/events-ticket").respond(201, json=TICKET)
    assert client.events_ticket("j1") == TICKET["url"]
    assert route.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    job = Job.model_validate({"jobId": "j1", "status": "pending"})
    assert client.events_ticket(job) == TICKET["url"]


def test_several_jobs_or_none_use_the_multiplexed_route(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{API}/api/events-ticket").respond(
        201, json={"url": "/api/events?job=a&job=b&ticket=t", "expiresAt": "x"}
    )
    assert client.events_ticket(["a", "b"]) == f"{API}/api/events?job=a&job=b&ticket=t"
    assert route.calls.last.request.url.query == b"job=a&job=b"
    client.events_ticket(status=["completed", "failed"], type="report")
    assert route.calls.last.request.url.query == b"status=completed&status=failed&type=report"
    client.events_ticket()
    assert route.calls.last.request.url.query == b""


def test_filters_need_the_multiplexed_stream(client: JobsClient) -> None:
    with pytest.raises(InvalidArgumentError):
        client.events_ticket("j1", type="echo")


def test_an_answer_without_a_url_is_a_protocol_error(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/api/jobs/j1/events-ticket").respond(201, json={"expiresAt": "x"})
    with pytest.raises(ProtocolError, match="ticket"):
        client.events_ticket("j1")


def test_a_503_is_retried_like_a_read(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    route = mock.post(f"{API}/api/jobs/j1/events-ticket")
    route.side_effect = [
        httpx.Response(503, headers={"Retry-After": "1"}),
        httpx.Response(201, json=TICKET),
    ]
    assert client.events_ticket("j1") == TICKET["url"]
    assert route.call_count == 2


def test_async_client(fake_time: FakeTime, mock: respx.MockRouter) -> None:
    mock.post(f"{API}/api/jobs/j1/events-ticket").respond(201, json=TICKET)

    async def main() -> str:
        async with make_async(fake_time) as c:
            return await c.events_ticket("j1")

    assert asyncio.run(main()) == TICKET["url"]


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet",)) as s:
        yield s


@pytest.mark.integration
def test_against_the_reference_server(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.token) as client:
        done = client.wait(client.submit("echo", {"n": 1}), timeout=30)
        url = client.events_ticket(done)
        assert url.startswith(f"{server.url}/api/jobs/{done.id}/events?ticket=")
        assert server.token not in url
        r = httpx.get(url, headers={"Accept": "text/event-stream"})  # no token
        assert r.status_code == 200 and "event: complete" in r.text
        mux = client.events_ticket([done, done.id])
        r = httpx.get(mux, headers={"Accept": "text/event-stream"})
        assert r.status_code == 200 and done.id in r.text
