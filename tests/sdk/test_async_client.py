"""The async client drives the same flows: the same wire behaviour, awaited."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import respx

from jobctl import Job

from .conftest import API, FakeTime, accepted, job_body, make_async, problem, sse, sse_response

STATUS = f"{API}/api/jobs/j1"
EVENTS = f"{API}/api/jobs/j1/events"


def test_submit_retries_with_one_key(mock: respx.MockRouter, fake_time: FakeTime) -> None:
    route = mock.post(f"{API}/api/jobs").mock(
        side_effect=[httpx.RemoteProtocolError("reset"), accepted(status_code=200)]
    )

    async def main() -> Job:
        async with make_async(fake_time) as client:
            return await client.submit("echo", {"x": 1})

    job = asyncio.run(main())
    assert job.replayed and route.call_count == 2
    assert len({c.request.headers["idempotency-key"] for c in route.calls}) == 1
    assert fake_time.sleeps == [0.375]


def test_wait_follows_events_and_awaits_async_callbacks(
    mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.get(EVENTS).mock(
        return_value=sse_response(
            sse(
                ("1", "status", {"status": "processing"}),
                ("2", "progress", {"current": 1, "total": 1}),
                ("3", "complete", {"status": "completed"}),
            )
        )
    )
    mock.get(STATUS).mock(return_value=httpx.Response(200, json=job_body(status="completed")))
    seen: list[str] = []

    async def on_progress(job: Job) -> None:
        seen.append(str(job.status))

    async def main() -> Job:
        async with make_async(fake_time) as client:
            return await client.wait("j1", on_progress=on_progress)

    assert asyncio.run(main()).status == "completed"
    assert seen == ["processing", "processing", "completed"]


def test_events_iter_jobs_and_poll_fallback(mock: respx.MockRouter, fake_time: FakeTime) -> None:
    mock.get(EVENTS).mock(return_value=problem(406))
    mock.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, json=job_body(status="processing"), headers={"Retry-After": "2"}),
            httpx.Response(200, json=job_body(status="completed")),
        ]
    )
    mock.get(f"{API}/api/jobs").mock(
        return_value=httpx.Response(
            200, json={"jobs": [job_body("a")], "total": 1, "nextOffset": None}
        )
    )

    async def main() -> tuple[list[str], list[str]]:
        async with make_async(fake_time) as client:
            events = [e.event async for e in client.events("j1")]
            ids = [j.id async for j in client.iter_jobs()]
            return events, ids

    assert asyncio.run(main()) == (["status", "complete"], ["a"])
    assert fake_time.sleeps == [2.0]


def test_download(mock: respx.MockRouter, fake_time: FakeTime, tmp_path: Path) -> None:
    mock.get("https://store.test/x").mock(
        return_value=httpx.Response(200, content=b"abc", headers={"content-length": "3"})
    )
    job = Job(job_id="j1", status="completed", result_url="https://store.test/x")

    async def main() -> bytes:
        sink = io.BytesIO()
        async with make_async(fake_time) as client:
            await client.download(job, tmp_path / "r")
            await client.download(job, sink)
        return sink.getvalue()

    assert asyncio.run(main()) == b"abc" and (tmp_path / "r").read_bytes() == b"abc"
