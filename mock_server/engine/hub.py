"""Wake-ups: the ``EventHub`` that long polls, event streams and workers wait on.

An ``asyncio.Event`` per job, replaced on each notification, so a waiter that
took the event before reading the state can never miss a change. The stored
event log is the source of the events themselves; the hub only says "look
again". Changes made by other processes (Redis) reach it through the store's
change feed, which calls ``notify`` and ``notify_all``.

A multiplexed stream (many jobs on one connection) holds one ``Subscription``
instead of one waiter per job: the hub indexes it under each job it follows
(a set entry per job, nothing more) or among the subscriptions to every job,
and sets its one ``wake`` event when any of them changes. The stream then reads
the store's feed after its position; the hub never holds events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

__all__ = ["EventHub", "Subscription"]


class Subscription:
    """One multiplexed stream's wake-up: set when any job it follows changes.

    Clear ``wake`` before reading the store (``arm``), then wait on it: a change
    made after the read sets it again.
    """

    __slots__ = ("wake",)

    def __init__(self) -> None:
        self.wake = asyncio.Event()

    def arm(self) -> asyncio.Event:
        """Clear the wake-up before reading the store; returns it to wait on."""
        self.wake.clear()
        return self.wake

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a change (after ``arm``); True when one came.

        Args:
            seconds: how long at most.
        """
        try:
            await asyncio.wait_for(self.wake.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return False
        return True


class EventHub:
    """Wake-ups per job id, and the subscriptions of multiplexed streams."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._by_job: dict[str, set[Subscription]] = {}
        self._every: set[Subscription] = set()
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
        """Wake everyone waiting on the job, and the subscriptions that follow it.

        Args:
            job_id: the job that changed.
        """
        event = self._events.pop(job_id, None)
        if event is not None:
            event.set()
        for sub in self._by_job.get(job_id, ()):
            sub.wake.set()
        for sub in self._every:
            sub.wake.set()
        for listener in self.listeners:
            listener(job_id)

    def notify_all(self) -> None:
        """Wake every waiter of every job and every subscription (they re-read their state)."""
        for job_id in list(self._events):
            self.notify(job_id)
        for subs in (*self._by_job.values(), self._every):
            for sub in subs:
                sub.wake.set()

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

    # ---- subscriptions of multiplexed streams -----------------------------------------
    def follow(self, sub: Subscription, job_ids: Iterable[str]) -> None:
        """Wake ``sub`` on changes of these jobs.

        Args:
            sub: the stream's subscription.
            job_ids: the jobs.
        """
        for job_id in job_ids:
            subs = self._by_job.get(job_id)
            if subs is None:
                subs = self._by_job[job_id] = set()
            subs.add(sub)

    def unfollow(self, sub: Subscription, job_ids: Iterable[str]) -> None:
        """Stop waking ``sub`` for these jobs.

        Args:
            sub: the stream's subscription.
            job_ids: the jobs.
        """
        for job_id in job_ids:
            subs = self._by_job.get(job_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_job[job_id]

    def follow_every(self, sub: Subscription, on: bool = True) -> None:
        """Wake ``sub`` on every change (an ``all`` stream), or stop doing so.

        Args:
            sub: the stream's subscription.
            on: start (True) or stop (False).
        """
        if on:
            self._every.add(sub)
        else:
            self._every.discard(sub)

    def followed(self) -> int:
        """How many (job, subscription) pairs the hub indexes (for tests and benchmarks)."""
        return sum(len(subs) for subs in self._by_job.values())
