"""Wake-ups across processes: the Redis store's change channel feeds the local EventHub.

Every event appended to a job's stream publishes the job id on the store's
``changes`` channel (in the same script). Each process subscribes once and
wakes its local waiters (SSE followers, long polls, the worker's cancellation
watch) for that job; the waiters then read the state from Redis. Waiters take
their wake-up before they read, so a change published after the read still
wakes them, and one published before it is already in what they read. When the
subscription breaks, every waiter is woken (to re-read) and it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .events import EventHub

__all__ = ["RedisHub"]

log = logging.getLogger("mock_server.hub")


class RedisHub(EventHub):
    """An EventHub that is also woken by changes made in other processes.

    Args:
        url: ``redis://HOST:PORT/DB``.
        channel: the store's change channel.
    """

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.url = url
        self.channel = channel
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        """Subscribe (in a background task) and wait up to 5 s until the subscription is live."""
        self._task = asyncio.create_task(self._listen(), name="redis-hub")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5.0)

    async def stop(self) -> None:
        """End the subscription."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def notify_all(self) -> None:
        """Wake every waiter of every job (they re-read their state)."""
        for job_id in list(self._events):
            self.notify(job_id)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            client: Any = aioredis.Redis.from_url(self.url, decode_responses=True)
            pubsub: Any = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                self.notify_all()  # changes made while we were not listening
                delay = 0.1
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.notify(str(message["data"]))
            except (RedisError, OSError) as exc:
                log.warning("change subscription lost (%s); reconnecting", type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
            self.notify_all()
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)
