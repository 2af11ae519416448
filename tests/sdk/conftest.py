"""Fakes for the SDK's unit tests: a clock that only moves when the client sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from jobctl import AsyncJobsClient, JobsClient, PollPolicy
from jobctl._core.context import Runtime

API = "http://api.test"
TOKEN = "s3cret-token-value"

_ENV = ("JOBCTL_URL", "JOBCTL_TOKEN", "JOBCTL_PROFILE", "JOBCTL_PROGRESS", "JOBCTL_TIMEOUT")


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's real config or JOBCTL_* variables."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOBCTL_CONFIG", str(tmp_path / "no-config.toml"))


class FakeTime:
    """A monotonic clock that advances only by the sleeps the client asks for."""

    def __init__(self, rand: float = 0.5) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.rand_value = rand

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_000_000.0 + self.now

    def rand(self) -> float:
        return self.rand_value

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def runtime(self) -> Runtime:
        return Runtime(clock=self.clock, wall=self.wall, rand=self.rand)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def client(fake_time: FakeTime, mock: respx.MockRouter) -> Iterator[JobsClient]:
    with JobsClient(
        API,
        TOKEN,
        poll=PollPolicy(initial=1.0, factor=2.0, max_interval=8.0, jitter=0.0, long_poll=0),
        _sleep=fake_time.sleep,
        _runtime=fake_time.runtime(),
    ) as c:
        yield c


def make_async(fake_time: FakeTime, **kwargs: Any) -> AsyncJobsClient:
    kwargs.setdefault("poll", PollPolicy(jitter=0.0, long_poll=0))
    return AsyncJobsClient(
        API, TOKEN, _sleep=fake_time.asleep, _runtime=fake_time.runtime(), **kwargs
    )


def job_body(job_id: str = "j1", status: str = "pending", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "jobId": job_id,
        "type": "sleep",
        "status": status,
        "createdAt": "2026-11-27T17:40:00Z",
        "updatedAt": "2026-11-27T17:40:00Z",
        "statusUrl": f"{API}/api/jobs/{job_id}",
        "eventsUrl": f"{API}/api/jobs/{job_id}/events",
    }
    body.update(extra)
    return body


def accepted(job_id: str = "j1", status_code: int = 202, **headers: str) -> httpx.Response:
    body = {
        "jobId": job_id,
        "status": "pending",
        "statusUrl": f"{API}/api/jobs/{job_id}",
        "eventsUrl": f"{API}/api/jobs/{job_id}/events",
        "estimatedWaitTime": 1000,
    }
    return httpx.Response(
        status_code,
        json=body,
        headers={"Location": f"/api/jobs/{job_id}", "Retry-After": "1", **headers},
    )


def problem(status: int, detail: str = "nope", **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "x", "status": status, "detail": detail, **extra}
    return httpx.Response(
        status, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )


def sse(*events: tuple[str, str, dict[str, Any]], retry: int | None = None) -> bytes:
    """An SSE body: (id, event, data) triples."""
    out = f"retry: {retry}\n\n" if retry is not None else ""
    for ev_id, name, data in events:
        out += f"id: {ev_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n"
    return out.encode()


def sse_response(body: bytes | Iterator[bytes]) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream", "cache-control": "no-cache"},
        content=body,
    )
