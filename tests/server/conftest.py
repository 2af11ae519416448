"""Shared helpers of the reference-server tests: HTTP clients, an SSE reader, job waiting."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from jobctl.testing import RedisServer, ReferenceServer, redis_server_available


@dataclass
class Event:
    """One parsed SSE event."""

    id: str | None
    event: str
    data: Any
    retry: int | None


def parse_sse(raw: bytes) -> tuple[list[Event], list[str]]:
    """Parse a whole SSE body into events and comment lines (strict: LF framing only)."""
    events: list[Event] = []
    comments: list[str] = []
    for block in raw.decode().split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            events.append(
                Event(
                    fields.get("id"),
                    fields.get("event", "message"),
                    json.loads(fields["data"]),
                    int(fields["retry"]) if "retry" in fields else None,
                )
            )
        elif "retry" in fields:
            events.append(Event(None, "retry-only", None, int(fields["retry"])))
    return events, comments


def free_port() -> int:
    """A TCP port free on loopback now (for a server that must know its own URL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(server: ReferenceServer, user: str | None = "alice", **kw: Any) -> httpx.Client:
    """An httpx client for ``user`` (None: no token)."""
    headers = server.headers(user) if user else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30.0, **kw)


def submit(c: httpx.Client, job_type: str, **input_: Any) -> str:
    """Submit a job and return its id (asserting the 202)."""
    r = c.post("/api/jobs", json={"type": job_type, "input": input_})
    assert r.status_code == 202, r.text
    return str(r.json()["jobId"])


def wait_terminal(c: httpx.Client, job_id: str, limit: int = 200) -> dict[str, Any]:
    """Long-poll until the job is terminal; returns its status body."""
    for _ in range(limit):
        r = c.get(f"/api/jobs/{job_id}", params={"wait": 10})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
    raise AssertionError(f"job {job_id} never finished")


def wait_status(c: httpx.Client, job_id: str, status: str, limit: int = 200) -> dict[str, Any]:
    """Long-poll until the job reaches ``status`` (with ``progress=1``: a hold that began
    once the job was already ``processing`` ends at its next step, not at its end)."""
    for attempt in range(limit):
        params = {"wait": 10 if attempt else 0, "progress": 1}
        body: dict[str, Any] = c.get(f"/api/jobs/{job_id}", params=params).json()
        if body["status"] == status:
            return body
        if body["status"] in ("completed", "failed", "cancelled"):
            break
    raise AssertionError(f"job {job_id} never became {status}")


def until(
    get: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """Call ``get`` every 50 ms until ``done`` says its answer is the one (10 s at most)."""
    for _ in range(200):
        r = get()
        if done(r):
            return r
        time.sleep(0.05)
    raise AssertionError(f"never done: {r.status_code} {r.text}")


def two_origins(**kw: Any) -> ReferenceServer:
    """A server whose second origin (``--result-base-url``) is itself, named ``localhost``.

    Args:
        kw: more ``ReferenceServer`` arguments (``store=...``).
    """
    port = free_port()
    args = ("--quiet", "--port", str(port), "--result-base-url", f"http://localhost:{port}")
    return ReferenceServer(args=args, **kw)


def cancel_live(c: httpx.Client) -> None:
    """Cancel the client's jobs that still run (so they free the server's workers)."""
    live = c.get("/api/jobs", params={"status": ["pending", "processing"], "limit": 100})
    for job in live.json()["jobs"]:
        c.delete(f"/api/jobs/{job['jobId']}")


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """Assert a problem+json error answer with the given status; returns its body."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["title"] and body["type"]
    assert body["detail"] and body["error"] == body["detail"]
    return body


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    """A server for one test module (isolated from other modules' jobs)."""
    with ReferenceServer(args=("--quiet",)) as s:
        yield s


@pytest.fixture
def alice(reference_server_session: ReferenceServer) -> Iterator[httpx.Client]:
    """Alice's client on the shared session server."""
    with client(reference_server_session) as c:
        yield c


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server for this test session (each server uses its own key prefix).

    Without ``redis-server`` on PATH this fails under CI (CI=true) and skips locally.
    """
    if not redis_server_available():
        reason = "redis-server is not on PATH (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Redis store's tests: {reason}")
        pytest.skip(reason)
    with RedisServer() as redis:
        yield redis.url


STORES = ["sqlite", "redis"]


def store_server(request: pytest.FixtureRequest, **kw: Any) -> ReferenceServer:
    """A ReferenceServer on the store named by ``request.param`` (``sqlite`` or ``redis``)."""
    if request.param == "redis":
        kw["store"] = request.getfixturevalue("redis_url")
    return ReferenceServer(**kw)
