"""Per-job wake-ups: the ``EventHub`` that long polls, SSE followers and workers wait on.

An ``asyncio.Event`` per job, replaced on each notification, so a waiter that
took the event before reading the state can never miss a change. The stored
event log is the source of the events themselves; the hub only says "look
again". Changes made by other processes (Redis) reach it through the store's
change feed, which calls ``notify`` and ``notify_all``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["EventHub"]


class EventHub:
    """Wake-ups per job id."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self.listeners: list[Callable[[str], None]] = []
        """Called with the job id of every change (the worker pool wakes on new jobs)."""

    def watch(self, job_id: str) -> asyncio.Event:
        """The event that is set at the job's next change (take it before reading state).

        Args:
            job_id: the job.
        """
        event = self._events.get(job_id)
        if event is None:
            event = self._events[job_id] = asyncio.Event()
        return event

    def notify(self, job_id: str) -> None:
        """Wake everyone waiting on the job.

        Args:
            job_id: the job that changed.
        """
        event = self._events.pop(job_id, None)
        if event is not None:
            event.set()
        for listener in self.listeners:
            listener(job_id)

    def notify_all(self) -> None:
        """Wake every waiter of every job (they re-read their state)."""
        for job_id in list(self._events):
            self.notify(job_id)

    async def wait(self, job_id: str, event: asyncio.Event, seconds: float) -> bool:
        """Wait for ``event`` (from ``watch``) up to ``seconds``; True when it fired.

        Args:
            job_id: the job (for bookkeeping only).
            event: the event from ``watch``.
            seconds: how long at most.
        """
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return False
        return True
