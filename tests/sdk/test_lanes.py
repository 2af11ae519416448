"""The SDK's own transport: long-held requests on per-call lanes, TLS built only for https."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobctl import AsyncJobsClient, JobsClient
from jobctl._io import aio as aio_module
from jobctl._io import sync as client_module
from jobctl._io.transport import LANE, AsyncLane, AsyncRouter, Lane, LazyTLS, Router
from jobctl.testing import ReferenceServer

SLEEP = {"seconds": 0.5, "steps": 2}


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet", "--keepalive", "1")) as srv:
        yield srv


@pytest.fixture
def ca_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every CA store load (the costly part of building an SSL context)."""
    loads: list[str] = []
    real_verify = ssl.SSLContext.load_verify_locations
    real_default = ssl.SSLContext.load_default_certs

    def verify_locations(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append("verify_locations")
        real_verify(self, *args, **kwargs)

    def default_certs(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append("default_certs")
        real_default(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", verify_locations)
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs", default_certs)
    return loads


def test_no_ca_store_is_loaded_until_an_https_request(ca_loads: list[str]) -> None:
    JobsClient("http://127.0.0.1:9", "t").close()
    asyncio.run(AsyncJobsClient("http://127.0.0.1:9", "t").aclose())
    JobsClient("https://api.example", "t").close()
    assert ca_loads == []
    tls = LazyTLS(True)
    context = tls.context()
    assert ca_loads and tls.context() is context


def test_a_given_context_is_used_as_it_is(ca_loads: list[str]) -> None:
    mine = ssl.create_default_context()
    ca_loads.clear()
    assert LazyTLS(mine).context() is mine and LazyTLS(False).context().verify_mode is (
        ssl.CERT_NONE
    )
    assert ca_loads == []


def test_lane_requests_use_their_own_pool_closed_with_the_lane(server: ReferenceServer) -> None:
    tls = LazyTLS(True)
    router = Router(tls, httpx.Limits())
    lane = Lane(tls)
    with httpx.Client(transport=router) as http:
        assert http.get(server.url + "/healthz").status_code == 200
        assert not lane.used
        reply = http.get(server.url + "/healthz", extensions={LANE: lane})
        assert reply.status_code == 200 and lane.used
        lane.close()
        assert not lane.used


def test_async_lane_requests_use_their_own_pool(server: ReferenceServer) -> None:
    async def main() -> None:
        tls = LazyTLS(True)
        lane = AsyncLane(tls)
        async with httpx.AsyncClient(transport=AsyncRouter(tls, httpx.Limits())) as http:
            reply = await http.get(server.url + "/healthz", extensions={LANE: lane})
            assert reply.status_code == 200 and lane.used
            await lane.aclose()
            assert not lane.used

    asyncio.run(main())


@pytest.mark.integration
@pytest.mark.parametrize("strategy", ["sse", "poll"])
def test_a_held_wait_never_blocks_the_shared_pool(
    server: ReferenceServer, monkeypatch: pytest.MonkeyPatch, strategy: Any
) -> None:
    # One shared connection: were a stream or a long poll held in the shared pool, the
    # second wait (and the cancel) would queue behind the first until a timeout.
    monkeypatch.setattr(aio_module, "LIMITS", httpx.Limits(max_connections=1))

    async def main() -> tuple[str, str]:
        async with AsyncJobsClient(server.url, server.token, timeout=60) as c:
            long = await c.submit("sleep", {"seconds": 60, "steps": 60})
            following = asyncio.Event()
            held = asyncio.ensure_future(
                c.wait(long, timeout=30, strategy=strategy, on_progress=lambda _: following.set())
            )
            await following.wait()
            short = await c.wait(await c.submit("sleep", SLEEP), timeout=15, strategy=strategy)
            await c.cancel(long)
            return str(short.status), str((await held).status)

    assert asyncio.run(main()) == ("completed", "cancelled")


@pytest.mark.integration
def test_sync_wait_holds_no_shared_connection(
    server: ReferenceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "LIMITS", httpx.Limits(max_connections=1))
    with JobsClient(server.url, server.token, timeout=60) as c:
        job = c.submit("sleep", SLEEP)
        seen: list[str] = []
        # a GET on the shared pool from inside the wait: it must not queue behind the stream
        final = c.wait(job, timeout=30, on_progress=lambda j: seen.append(str(c.get(j).status)))
    assert final.status == "completed" and seen


def test_the_shared_pool_gate_holds_a_slot_until_the_response_is_closed(
    server: ReferenceServer,
) -> None:
    with httpx.Client(transport=Router(LazyTLS(True), httpx.Limits(max_connections=1))) as http:
        with http.stream("GET", server.url + "/healthz") as held:
            assert held.status_code == 200
            with pytest.raises(httpx.PoolTimeout):
                http.get(server.url + "/healthz", timeout=httpx.Timeout(5.0, pool=0.01))
        assert http.get(server.url + "/healthz").status_code == 200


def test_the_async_gate_queues_a_burst_and_times_out_like_a_pool(
    server: ReferenceServer,
) -> None:
    async def main() -> list[int]:
        router = AsyncRouter(LazyTLS(True), httpx.Limits(max_connections=2))
        async with httpx.AsyncClient(transport=router) as http:
            url = server.url + "/healthz"
            async with http.stream("GET", url), http.stream("GET", url):
                with pytest.raises(httpx.PoolTimeout):
                    await http.get(url, timeout=httpx.Timeout(5.0, pool=0.01))
            burst = await asyncio.gather(*(http.get(server.url + "/healthz") for _ in range(20)))
        return [reply.status_code for reply in burst]

    assert asyncio.run(main()) == [200] * 20
