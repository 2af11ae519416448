"""The baseline every follow strategy is compared with: the classic naive poller.

What most hand-written clients do: sleep 1 s, GET the status URL, and multiply the
pause by 1.5 after each poll, up to 30 s, until the job is terminal. Plain httpx,
no hints, no long polls, no events.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

__all__ = ["TERMINAL", "naive_follow", "naive_submit"]

TERMINAL = frozenset({"completed", "failed", "cancelled"})
INITIAL = 1.0
FACTOR = 1.5
MAX_INTERVAL = 30.0


async def naive_submit(
    client: httpx.AsyncClient, base_url: str, type_: str, input_: dict[str, Any]
) -> str:
    """Submit a job; its status URL.

    Args:
        client: an httpx client that carries the Authorization header.
        base_url: the API base URL.
        type_: the job type.
        input_: its input.
    """
    reply = await client.post(f"{base_url}/api/jobs", json={"type": type_, "input": input_})
    reply.raise_for_status()
    status_url: str = reply.json()["statusUrl"]
    return status_url


async def naive_follow(client: httpx.AsyncClient, status_url: str) -> tuple[dict[str, Any], float]:
    """Poll a job until it is terminal.

    Args:
        client: an httpx client that carries the Authorization header.
        status_url: the job's status URL.

    Returns:
        The terminal status body and the wall clock (unix seconds) at which it was read.
    """
    interval = INITIAL
    while True:
        await asyncio.sleep(interval)
        reply = await client.get(status_url)
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        if body.get("status") in TERMINAL:
            return body, time.time()
        interval = min(MAX_INTERVAL, interval * FACTOR)
