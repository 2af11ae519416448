"""The SDK against the real reference server on loopback (sync and async)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobctl import (
    AsyncJobsClient,
    ConflictError,
    Job,
    JobFailedError,
    JobsClient,
    PollPolicy,
)
from jobctl.testing import ReferenceServer
from mock_server.engine.jobtypes import blob_bytes

pytestmark = pytest.mark.integration

FAST = PollPolicy(initial=0.1, factor=1.5, max_interval=0.5, jitter=0.1, long_poll=5)
SLEEP = {"seconds": 0.3, "steps": 3}


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet", "--keepalive", "1")) as srv:
        yield srv


@pytest.fixture
def client(server: ReferenceServer) -> Iterator[JobsClient]:
    with JobsClient(server.url, server.token, poll=FAST) as c:
        yield c


def progress_recorder() -> tuple[list[tuple[str, int | None]], Any]:
    seen: list[tuple[str, int | None]] = []

    def record(job: Job) -> None:
        seen.append((str(job.status), job.progress.current if job.progress else None))

    return seen, record


@pytest.mark.parametrize("strategy", ["auto", "sse", "poll"])
def test_submit_and_wait(client: JobsClient, strategy: Any) -> None:
    job = client.submit("sleep", SLEEP)
    assert job.status == "pending" and job.idempotency_key and not job.replayed
    seen, record = progress_recorder()
    final = client.wait(job, timeout=30, strategy=strategy, on_progress=record)
    assert final.status == "completed" and final.result_url
    assert final.output == {"sleptSeconds": 0.3}
    assert seen[-1][0] == "completed"
    steps = [current for _, current in seen if current is not None]
    assert steps == sorted(steps) and steps[-1] == 3


@pytest.mark.parametrize("strategy", ["auto", "sse", "poll"])
def test_async_submit_and_wait(server: ReferenceServer, strategy: Any) -> None:
    async def main() -> Job:
        async with AsyncJobsClient(server.url, server.token, poll=FAST) as client:
            job = await client.submit("sleep", SLEEP)
            return await client.wait(job.id, timeout=30, strategy=strategy)

    assert asyncio.run(main()).status == "completed"


def test_events_until_the_end(client: JobsClient) -> None:
    job = client.submit("sleep", SLEEP)
    events = list(client.events(job))
    assert events[0].event == "status" and events[-1].event == "complete"
    assert events[-1].status == "completed"
    ids = [int(e.id) for e in events if e.id is not None]
    assert ids == sorted(set(ids))
    assert any(e.event == "progress" for e in events)
    # resuming after the complete event: the stream has ended (204), nothing more
    assert list(client.events(job, last_event_id=events[-1].id)) == []


def test_events_of_a_finished_job_end_with_complete_and_its_error(client: JobsClient) -> None:
    job = client.wait(client.submit("fail", {"code": "E7", "message": "nope", "retryable": True}))
    assert job.status == "failed"
    events = list(client.events(job))
    assert [e.event for e in events] == ["status", "complete"]
    assert events[0].status == "failed"
    assert events[-1].error is not None and events[-1].error.code == "E7"


def test_events_survive_a_stream_that_keeps_dropping(tmp_path: Path) -> None:
    args = ("--quiet", "--faults", "sse-drop", "--fault-rate", "0.7", "--fault-seed", "3")
    with ReferenceServer(args=args) as srv, JobsClient(srv.url, srv.token, poll=FAST) as client:
        job = client.submit("sleep", {"seconds": 0.6, "steps": 6})
        events = list(client.events(job))
        assert events[-1].is_terminal and events[-1].status == "completed"
        ids = [int(e.id) for e in events if e.id is not None]
        assert ids == sorted(set(ids))  # resumed with Last-Event-ID, no duplicates
        currents = [e.progress.current for e in events if e.progress is not None]
        assert currents == sorted(currents)


def test_cancel(client: JobsClient) -> None:
    job = client.submit("sleep", {"seconds": 60, "steps": 60})
    assert client.cancel(job.id).status == "cancelled"
    assert client.wait(job, timeout=10).status == "cancelled"


def test_retry_of_a_flaky_job(client: JobsClient) -> None:
    with pytest.raises(JobFailedError) as info:
        client.run("flaky", {"failTimes": 1, "seconds": 0.05}, timeout=30)
    failed = info.value.job
    assert failed.error is not None and failed.error.retryable
    again = client.retry(failed)
    assert again.original_job_id == failed.id and again.id != failed.id
    assert client.wait(again, timeout=30).status == "completed"


def test_list_and_iter_jobs(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.tokens["bob"], poll=FAST) as bob:
        mine = {bob.submit("echo", {"i": i}).id for i in range(5)}
        page = bob.list(type="echo", limit=2)
        assert len(page.jobs) == 2 and page.total == 5 and page.next_offset == 2
        assert {j.id for j in bob.iter_jobs(type="echo", limit=2)} == mine
        assert bob.list(status="failed").total == 0


def test_idempotent_replay_and_key_reuse(client: JobsClient) -> None:
    first = client.submit("echo", {"x": 1}, idempotency_key="replay-key-1")
    again = client.submit("echo", {"x": 1}, idempotency_key="replay-key-1")
    assert again.id == first.id and again.replayed and not first.replayed
    with pytest.raises(ConflictError, match="different request"):
        client.submit("echo", {"x": 2}, idempotency_key="replay-key-1")


def test_download_a_report_into_a_directory(client: JobsClient, tmp_path: Path) -> None:
    job = client.run("report", {"pages": 3, "format": "pdf", "secondsPerPage": 0.01}, timeout=30)
    path = client.download(job, tmp_path)
    assert path is not None and path.parent == tmp_path and path.suffix == ".pdf"
    assert path.read_bytes().startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_download_a_blob_verified_and_resumed(
    client: JobsClient, server: ReferenceServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    size = 3 * 1024 * 1024 + 17
    job = client.run("blob", {"sizeBytes": size, "seed": 11}, timeout=60)
    first = client.download(job, tmp_path / "a.bin")
    assert first is not None and first.read_bytes() == blob_bytes(11, size)
    assert hashlib.sha256(first.read_bytes()).hexdigest() == job.output["sha256"]
    # a broken earlier download: the first MiB and its ETag are on disk
    etag = httpx.get(job.result_url or "", headers=server.headers()).headers["etag"]
    (tmp_path / "b.bin.part").write_bytes(first.read_bytes()[: 1 << 20])
    (tmp_path / "b.bin.part.etag").write_text(etag)
    with caplog.at_level(logging.DEBUG, logger="jobctl"):
        second = client.download(job, tmp_path / "b.bin")
    assert second is not None and second.read_bytes() == first.read_bytes()
    assert f"'Range': 'bytes={1 << 20}-'" in caplog.text
    assert server.token not in caplog.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_redirect_mode_and_results_on_another_origin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    other = f"http://localhost:{port}"
    srv = ReferenceServer(args=("--quiet", "--redirect-completed", "--result-base-url", other))
    srv.port = port
    with srv, JobsClient(srv.url, srv.token, poll=FAST) as client:
        job = client.submit("echo", {"hello": "world"})
        final = client.wait(job, timeout=30, strategy="poll")
        assert final.status == "completed"
        assert final.result_url and final.result_url.startswith(other)
        with caplog.at_level(logging.DEBUG, logger="jobctl"):
            path = client.download(final, tmp_path / "echo.json")
        assert path is not None and path.read_bytes()
        sent = [line for line in caplog.text.splitlines() if f"-> GET {other}" in line]
        assert sent and all("Authorization" not in line for line in sent)


# -- under fire ------------------------------------------------------------------


def expected_state(i: int) -> str:
    return "failed" if i % 5 == 3 else "completed"


def job_for(i: int) -> tuple[str, dict[str, Any]]:
    kind = i % 5
    if kind == 0:
        return "echo", {"n": i, "text": f"payload-{i}"}
    if kind == 1:
        return "blob", {"sizeBytes": 50_000 + i, "seed": i}
    if kind == 2:
        return "sleep", {"seconds": 0.2, "steps": 2}
    if kind == 3:
        return "fail", {"code": f"E{i}", "message": "as asked", "retryable": False}
    return "report", {"pages": 2, "format": "csv", "secondsPerPage": 0.01}


@pytest.mark.parametrize("size", [40, pytest.param(200, marks=pytest.mark.slow)])
def test_faults_never_duplicate_or_lose_a_job(
    size: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if size > 40 and "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the large size runs with -m slow")
    args = (
        "--quiet",
        "--fault-rate",
        "0.3",
        "--faults",
        "503,429,reset,sse-drop",
        "--fault-seed",
        "7",
        "--keepalive",
        "1",
        "--workers",
        "8",
    )
    with ReferenceServer(args=args) as srv:

        async def one(client: AsyncJobsClient, i: int, gate: asyncio.Semaphore) -> None:
            type_, input_ = job_for(i)
            async with gate:
                job = await client.submit(type_, input_, correlation_id=f"chaos-{i}")
                final = await client.wait(job, timeout=120)
                assert final.status == expected_state(i), (i, final)
                if final.status == "failed":
                    assert final.error is not None and final.error.code == f"E{i}"
                    return
                path = await client.download(final, tmp_path / f"r{i}")
                assert path is not None
                data = path.read_bytes()
                if type_ == "echo":
                    assert httpx.Response(200, content=data).json() == input_
                elif type_ == "blob":
                    assert data == blob_bytes(input_["seed"], input_["sizeBytes"])
                    assert hashlib.sha256(data).hexdigest() == final.output["sha256"]
                elif type_ == "report":
                    assert data.count(b"\n") >= 2

        async def main() -> int:
            async with AsyncJobsClient(
                srv.url, srv.token, poll=FAST, max_retries=10, timeout=10
            ) as client:
                gate = asyncio.Semaphore(16)
                await asyncio.gather(*(one(client, i, gate) for i in range(size)))
                return (await client.list(limit=1)).total

        assert asyncio.run(main()) == size


def test_a_wait_survives_the_server_being_killed_and_restarted() -> None:
    import threading
    import time

    with ReferenceServer(args=("--quiet",)) as srv, JobsClient(srv.url, srv.token, poll=FAST) as c:
        job = c.submit("sleep", {"seconds": 1.0, "steps": 4})

        def bounce() -> None:
            time.sleep(0.4)
            srv.kill()  # SIGKILL: streams and polls break mid-way
            time.sleep(1.0)
            srv.start()  # same port, same database

        thread = threading.Thread(target=bounce)
        thread.start()
        try:
            final = c.wait(job, timeout=60)
        finally:
            thread.join()
        assert final.status == "completed" and final.id == job.id
        assert c.list(limit=1).total == 1
