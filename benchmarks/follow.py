"""Following many jobs at once with each strategy; the latency and request rows use it.

A *strategy* is how a client learns that a job ended: the SDK's ``auto``, ``sse``
and ``poll`` (long polls) strategies, ``poll`` with long polls switched off
(``PollPolicy(long_poll=0)``: server hints only), the naive poller, and a
raw-socket reader of the job's event stream that returns on its ``complete`` event
(no HTTP library: the floor of what any client can do; the latency row's second
baseline).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from jobctl import AsyncJobsClient, PollPolicy

from .common import parse_iso
from .naive import naive_follow, naive_submit
from .server import USER_TOKEN

__all__ = ["STRATEGIES", "Followed", "follow_batch"]

STRATEGIES: dict[str, str] = {
    "auto": "SDK `wait(strategy='auto')` (events first)",
    "sse": "SDK `wait(strategy='sse')`",
    "poll": "SDK `wait(strategy='poll')` (long polls)",
    "hints": "SDK `wait(strategy='poll')`, `PollPolicy(long_poll=0)` (hints only)",
    "naive": "naive poller (1 s, x1.5, ≤ 30 s)",
    "raw": "raw-socket SSE reader (returns on `complete`)",
}


@dataclass(frozen=True)
class Followed:
    """One job followed to its end.

    Args:
        job_id: the job.
        latency: seconds from the server's ``completedAt`` to the client knowing.
    """

    job_id: str
    latency: float


async def _sdk_one(
    client: AsyncJobsClient, strategy: str, input_: dict[str, Any], delay: float, limit: float
) -> Followed:
    await asyncio.sleep(delay)
    job = await client.submit("sleep", input_)
    mode = "poll" if strategy == "hints" else strategy
    final = await client.wait(job, timeout=limit, strategy=mode)  # type: ignore[arg-type]
    known = time.time()
    if final.status != "completed" or final.completed_at is None:
        raise RuntimeError(f"job {final.id} ended {final.status} without completedAt")
    return Followed(final.id, known - final.completed_at.timestamp())


async def _naive_one(
    client: httpx.AsyncClient, url: str, input_: dict[str, Any], delay: float
) -> Followed:
    await asyncio.sleep(delay)
    status_url = await naive_submit(client, url, "sleep", input_)
    body, known = await naive_follow(client, status_url)
    if body.get("status") != "completed":
        raise RuntimeError(f"job {body.get('jobId')} ended {body.get('status')}")
    return Followed(str(body["jobId"]), known - parse_iso(str(body["completedAt"])))


async def raw_sse_follow(events_url: str, token: str) -> float:
    """Read a job's event stream over a bare socket until its ``complete`` event.

    One ``GET`` written by hand, the reply's bytes searched for ``event: complete``
    and the blank line that ends that event; nothing is parsed or validated.

    Args:
        events_url: the job's ``eventsUrl`` (``http://`` only).
        token: the bearer token.

    Returns:
        The wall clock (unix seconds) at which the ``complete`` event had been read.
    """
    parts = urlsplit(events_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            (
                f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        buf = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError(f"the event stream of {events_url} ended without complete")
            buf += chunk
            at = buf.find(b"event: complete")
            if at >= 0 and buf.find(b"\n\n", at) >= 0:
                return time.time()
    finally:
        writer.close()


async def _raw_one(
    client: httpx.AsyncClient, url: str, input_: dict[str, Any], delay: float
) -> Followed:
    await asyncio.sleep(delay)
    reply = await client.post(f"{url}/api/jobs", json={"type": "sleep", "input": input_})
    reply.raise_for_status()
    known = await raw_sse_follow(str(reply.json()["eventsUrl"]), USER_TOKEN)
    body = (await client.get(str(reply.json()["statusUrl"]))).json()  # after: not timed
    if body.get("status") != "completed":
        raise RuntimeError(f"job {body.get('jobId')} ended {body.get('status')}")
    return Followed(str(body["jobId"]), known - parse_iso(str(body["completedAt"])))


async def follow_batch(
    url: str, strategy: str, count: int, seconds: float, *, stagger: float
) -> list[Followed]:
    """Submit ``count`` sleep jobs of ``seconds`` and follow each to its end.

    Args:
        url: the API base URL.
        strategy: a key of ``STRATEGIES``.
        count: how many jobs.
        seconds: each job's length.
        stagger: submissions are spread evenly over this many seconds, so the
            completions don't all land in the same millisecond.
    """
    input_ = {"seconds": seconds}
    delays = [stagger * i / max(1, count) for i in range(count)]
    limit = seconds * 3 + 120
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    if strategy in ("naive", "raw"):
        one = _naive_one if strategy == "naive" else _raw_one
        headers = {"Authorization": f"Bearer {USER_TOKEN}"}
        async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as raw:
            return list(await asyncio.gather(*(one(raw, url, input_, d) for d in delays)))
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    policy = PollPolicy(long_poll=0) if strategy == "hints" else None
    async with AsyncJobsClient(url, USER_TOKEN, poll=policy) as client:
        coros = (_sdk_one(client, strategy, input_, d, limit) for d in delays)
        return list(await asyncio.gather(*coros))


def server_hint(url: str, seconds: float) -> float:
    """The poll hint (``Retry-After``) the server gives for a just-started job of ``seconds``.

    Args:
        url: the API base URL.
        seconds: the job's length.
    """
    headers = {"Authorization": f"Bearer {USER_TOKEN}"}
    with httpx.Client(headers=headers, timeout=30) as client:
        body = client.post(f"{url}/api/jobs", json={"type": "sleep", "input": {"seconds": seconds}})
        status_url = body.json()["statusUrl"]
        for _ in range(50):
            reply = client.get(status_url)
            if reply.json().get("status") == "processing":
                return float(reply.headers.get("retry-after", "nan"))
            time.sleep(0.02)
    return float("nan")
