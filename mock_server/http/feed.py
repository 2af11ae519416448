"""One client's multiplexed feed: the jobs it follows, its position, snapshots and live events.

Shared by ``GET /api/events`` (``mux.py``) and ``GET /api/ws`` (``ws.py``). The
store's feed numbers every event across all jobs (``FeedEvent.seq``); a stream's
ids are those numbers, so they increase across its jobs and a position
(``Last-Event-ID``, ``resume``) means "every event after N" whatever the jobs.

What a ``Feed`` keeps is O(1) per followed job: the set of named jobs that have
not ended, and the hub's index entry that wakes its one ``Subscription`` (see
``engine/hub.py``). Events are read from the store after ``cursor`` when woken,
never held per job. An ``all`` feed keeps nothing per job at all.

Snapshots. A job's snapshot is a ``status`` event (``complete`` for a job that has
ended: that event carries the whole job). A snapshot is sent only for a job whose
newest event is at or before the feed's position, so the live events after the
position never go back before it: on a stream that opens with snapshots, each
carries the position of its job's newest event and they are sent in that order
(``ids="heads"``); later snapshots (a WebSocket subscribe) carry the current
position (``ids="cursor"``). A job whose newest event is after the position gets
that event from the live feed instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..engine.hub import Subscription
from ..engine.runtime import Engine
from ..store.base import TERMINAL, FeedEvent, JobRecord
from .deps import User
from .sse import snapshot_data

__all__ = ["BATCH", "LIVE", "MAX_JOBS", "Feed", "Filters", "Known", "Message", "Snapshot"]

MAX_JOBS = 10_000
"""The most named jobs one stream or WebSocket follows."""
BATCH = 500
"""Feed entries read per store call."""
LIVE = ["pending", "processing"]
_ALL_LIVE_LIMIT = 100_000
_READ = 200  # jobs read at once: their inputs and outputs are dropped after each batch


@dataclass(frozen=True)
class Message:
    """One event for the client: its feed position, name, job and data (with ``jobId``).

    Args:
        id: the feed position.
        event: ``status``, ``progress`` or ``complete``.
        job_id: the job.
        data: the event's data, ``jobId`` first.
    """

    id: int
    event: str
    job_id: str
    data: dict[str, Any]

    def json_data(self) -> str:
        """The data as one-line JSON."""
        return json.dumps(self.data, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Known:
    """What a snapshot needs of a job the caller may see (not its input and output).

    Args:
        id: the job.
        type: its type.
        status: its status when read.
    """

    id: str
    type: str
    status: str

    @property
    def terminal(self) -> bool:
        """True for completed, failed and cancelled."""
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot to send: made into a ``Message`` by ``Feed.render`` when it is sent.

    Args:
        head: the position of the job's newest event.
        at: the id the message carries.
        job_id: the job.
        event: ``status``, or ``complete`` for a job that has ended.
    """

    head: int
    at: int
    job_id: str
    event: str


@dataclass(frozen=True)
class Filters:
    """``type=`` and ``status=`` of a stream, as the list has them (empty: no filter).

    An event's status is the job's status once the event happened: a ``status``
    or ``complete`` event's own, ``processing`` for ``progress``.

    Args:
        job_type: only jobs of this type.
        statuses: only events whose status is one of these.
    """

    job_type: str | None = None
    statuses: frozenset[str] = field(default_factory=frozenset)

    def admits(self, job_type: str, status: str) -> bool:
        """Whether an event of a job of ``job_type`` with ``status`` passes.

        Args:
            job_type: the job's type.
            status: the event's status.
        """
        if self.job_type is not None and job_type != self.job_type:
            return False
        return not self.statuses or status in self.statuses


def _status_of(event: str, data: dict[str, Any]) -> str:
    return "processing" if event == "progress" else str(data.get("status", ""))


class Feed:
    """The multiplexed view of one stream or WebSocket.

    Args:
        engine: the engine (store and hub).
        user: the caller (an admin follows anyone's jobs; ``all`` is everyone's).
        job_view: the job's status body, as ``GET /api/jobs/{id}`` answers this client.
    """

    def __init__(
        self, engine: Engine, user: User, job_view: Callable[[JobRecord], dict[str, Any]]
    ) -> None:
        self.store = engine.store
        self.hub = engine.hub
        self.owner = None if user.admin else user.name
        self.job_view = job_view
        self.jobs: set[str] = set()
        """Named jobs that have not ended on this feed."""
        self.filters = Filters()
        """Filters of the named jobs."""
        self.every: Filters | None = None
        """The ``all`` subscription's filters, when there is one."""
        self.cursor = 0
        self.sub = Subscription()

    # ---- position -------------------------------------------------------------------
    def start(self, position: int | None) -> bool:
        """Set the position: ``position`` when the store still holds what follows it, else now.

        Returns:
            True when resuming from ``position``.

        Args:
            position: the client's last position (``Last-Event-ID``, ``resume``), if any.
        """
        floor, last = self.store.feed_bounds(self.owner)
        if position is not None and floor <= position <= last:
            self.cursor = position
            return True
        self.cursor = last
        return False

    def catch_up(self) -> None:
        """Move the position to now, when nothing is followed (nothing can be skipped)."""
        if not self.jobs and self.every is None:
            self.cursor = self.store.feed_bounds(self.owner)[1]

    # ---- following --------------------------------------------------------------------
    def follow(self, job_ids: list[str]) -> None:
        """Follow these (visible) named jobs: the hub wakes the feed on their changes.

        Args:
            job_ids: the jobs.
        """
        new = [j for j in job_ids if j not in self.jobs]
        self.jobs.update(new)
        self.hub.follow(self.sub, new)

    def unfollow(self, job_ids: list[str]) -> None:
        """Stop following these named jobs.

        Args:
            job_ids: the jobs.
        """
        gone = [j for j in job_ids if j in self.jobs]
        self.jobs.difference_update(gone)
        self.hub.unfollow(self.sub, gone)

    def follow_every(self, filters: Filters | None) -> None:
        """Follow every job of the caller (matching ``filters``), or stop (None).

        Args:
            filters: the ``all`` subscription's filters.
        """
        self.every = filters
        self.hub.follow_every(self.sub, filters is not None)

    def close(self) -> None:
        """Leave the hub."""
        self.unfollow(list(self.jobs))
        self.follow_every(None)

    def known(self, job_ids: list[str]) -> list[Known | None]:
        """The jobs as this caller may see them: None for unknown and other users' jobs.

        Args:
            job_ids: the jobs (read a few hundred at a time; only what a snapshot needs is
                kept, not inputs and outputs).
        """
        out: list[Known | None] = []
        for i in range(0, len(job_ids), _READ):
            for job in self.store.get_jobs(job_ids[i : i + _READ]):
                visible = job is not None and self.owner in (None, job.owner)
                out.append(Known(job.id, job.type, job.status) if visible and job else None)
        return out

    # ---- snapshots --------------------------------------------------------------------
    def snapshots(
        self,
        jobs: list[Known],
        filters: Filters,
        ids: Literal["heads", "cursor"],
    ) -> list[Snapshot]:
        """Snapshots to send of ``jobs`` whose newest event is at or before the position.

        A job that has ended gets its ``complete`` event (and stops being followed). The
        snapshots are made into messages by ``render``, one at a time, as they are sent.

        Args:
            jobs: the jobs.
            filters: which snapshots to send.
            ids: each job's newest position, in that order (a stream's opening), or the
                current position for all (snapshots after the stream began).
        """
        heads = self.store.feed_heads([j.id for j in jobs])
        out: list[Snapshot] = []
        for job in jobs:
            head = heads.get(job.id, 0)
            if head > self.cursor:
                continue  # its newest event comes from the live feed
            at = head if ids == "heads" else self.cursor
            if job.terminal:
                self.unfollow([job.id])
            if filters.admits(job.type, job.status):
                out.append(Snapshot(head, at, job.id, "complete" if job.terminal else "status"))
        out.sort(key=lambda snap: snap.head)
        return out

    def render(self, snap: Snapshot) -> Message | None:
        """The message of a snapshot, from the job as it is now (None: it was purged).

        Args:
            snap: from ``snapshots``.
        """
        job = self.store.get_job(snap.job_id)
        if job is None:
            return None
        # A job that ended after its record was read but at or before the position (the
        # stream's opening, a subscribe): its `complete` will not come from the live feed,
        # so the snapshot is that `complete`, or the stream would wait for it forever.
        if (
            snap.event == "status"
            and job.status in TERMINAL
            and self.store.feed_heads([job.id]).get(job.id, 0) <= self.cursor
        ):
            self.unfollow([job.id])
            snap = Snapshot(snap.head, snap.at, snap.job_id, "complete")
        if snap.event == "status":
            return self._message(snap.at, "status", job.id, snapshot_data(job))
        data = self._complete_data(job)
        return None if data is None else self._message(snap.at, "complete", job.id, data, job)

    def live_jobs(self, filters: Filters) -> list[Known]:
        """The caller's pending and processing jobs matching ``filters`` (an ``all`` opening).

        Args:
            filters: the ``all`` subscription's filters.
        """
        statuses = [s for s in LIVE if not filters.statuses or s in filters.statuses]
        if not statuses:
            return []
        jobs, _ = self.store.list_jobs(
            owner=self.owner,
            statuses=statuses,
            job_type=filters.job_type,
            limit=_ALL_LIVE_LIMIT,
            offset=0,
        )
        return [Known(job.id, job.type, job.status) for job in jobs]

    def _complete_data(self, job: JobRecord) -> dict[str, Any] | None:
        complete_id = self.store.complete_event_id(job.id)
        if complete_id is None:
            return None
        held = self.store.events_after(job.id, complete_id - 1)
        return json.loads(held[0][2]) if held else None

    # ---- live -------------------------------------------------------------------------
    def pending(self) -> list[Message]:
        """The events after the position that this feed admits; moves the position past them.

        Reads at most a few batches: call again while it returns messages.
        """
        out: list[Message] = []
        while len(out) < BATCH:
            batch = self.store.feed_after(self.owner, self.cursor, BATCH)
            for event in batch:
                self.cursor = event.seq
                message = self._admit(event)
                if message is not None:
                    out.append(message)
            if len(batch) < BATCH:
                break
        return out

    def _admit(self, event: FeedEvent) -> Message | None:
        data = json.loads(event.data)
        status = _status_of(event.event, data)
        named = event.job_id in self.jobs
        if named:
            admitted = self.filters.admits(event.job_type, status)
            if event.event == "complete":
                self.unfollow([event.job_id])
        else:
            admitted = self.every is not None and self.every.admits(event.job_type, status)
        if not admitted:
            return None
        return self._message(event.seq, event.event, event.job_id, data)

    def finish(self, message: Message) -> Message:
        """The message as it is sent: a ``complete`` gets the job's document (``job``) now,
        so a batch of live events never holds many documents at once.

        Args:
            message: from ``pending`` or ``render``.
        """
        if message.event != "complete" or "job" in message.data:
            return message
        job = self.store.get_job(message.job_id)
        if job is None:
            return message
        return Message(
            message.id, message.event, message.job_id, {**message.data, "job": self.job_view(job)}
        )

    def _message(
        self,
        at: int,
        event: str,
        job_id: str,
        data: dict[str, Any],
        job: JobRecord | None = None,
    ) -> Message:
        body = {"jobId": job_id, **data}
        if event == "complete" and job is not None:
            body["job"] = self.job_view(job)
        return Message(at, event, job_id, body)
