"""Wake-ups across processes: the Redis store's change channel, followed by each process.

Every event appended to a job's stream publishes the job id on the store's
``changes`` channel (in the same script). Each process subscribes once and
calls ``notify(job_id)`` for each message, which wakes its local waiters (SSE
followers, long polls, the worker's cancellation watch); the waiters then read
the state from Redis. Waiters take their wake-up before they read, so a change
published after the read still wakes them, and one published before it is
already in what they read. When the subscription breaks, ``notify_all()`` wakes
every waiter (to re-read) and the subscription reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["RedisChanges"]

log = logging.getLogger("mock_server.hub")


class RedisChanges:
    """A subscription to the change channel (a ``ChangeFeed``).

    Args:
        url: ``redis://HOST:PORT/DB``.
        channel: the store's change channel.
        notify: called with the job id of each change.
        notify_all: called when changes may have been missed.
    """

    def __init__(
        self,
        url: str,
        channel: str,
        notify: Callable[[str], None],
        notify_all: Callable[[], None],
    ) -> None:
        self.url = url
        self.channel = channel
        self._notify = notify
        self._notify_all = notify_all
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

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            client: Any = aioredis.Redis.from_url(self.url, decode_responses=True)
            pubsub: Any = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                self._notify_all()  # changes made while we were not listening
                delay = 0.1
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._notify(str(message["data"]))
            except (RedisError, OSError) as exc:
                log.warning("change subscription lost (%s); reconnecting", type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
            self._notify_all()
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)
