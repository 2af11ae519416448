"""The store's interface, in one place: records, typed write models, constants, Protocols.

The engine and the HTTP layer import this module only, never an implementation;
``store.sqlite.SqliteStore`` (one process, the default) and
``store.redis.RedisStore`` (shared by several processes) implement ``JobStore``,
and each ends with a line that makes mypy check it. Reads return frozen records;
writes are typed: ``NewJob``/``NewDelivery`` say what to create (the id and the
time are passed beside them), ``JobChanges``/``DeliveryChanges`` (TypedDicts of
keyword arguments) what to change, so a misspelt or mistyped field is a mypy error.

Besides each job's own event log (ids 1, 2, 3, ... per job), every event also gets a
place in the **feed**: one sequence number across all jobs (``FeedEvent.seq``), from
which a multiplexed stream reads "every event of these jobs after N".

``JobStore`` is six concerns, one Protocol each. Every method is synchronous and
one atomic step: on SQLite because it runs on the event loop's thread without an
``await``; on Redis because it is one script or one ``WATCH``/``MULTI`` transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict, Unpack

__all__ = [
    "IDEMPOTENCY_TTL",
    "IN_FLIGHT_STALE",
    "TERMINAL",
    "ChangeFeed",
    "Delivery",
    "DeliveryChanges",
    "EventLog",
    "FeedEvent",
    "IdempotencyKeys",
    "JobChanges",
    "JobNames",
    "JobRecord",
    "JobStore",
    "JobTable",
    "KeyState",
    "NameRecord",
    "NewDelivery",
    "NewJob",
    "WebhookDeliveries",
    "WorkerClaims",
]

IDEMPOTENCY_TTL = 24 * 3600.0
"""Seconds an idempotency key is remembered from its first use."""
IN_FLIGHT_STALE = 120.0
"""Seconds after which a reservation whose request never finished is taken over."""
TERMINAL = ("completed", "failed", "cancelled")
"""The statuses that never change again."""


# ---- records (what reads return) -------------------------------------------------------
@dataclass(frozen=True)
class JobRecord:
    """One job; JSON fields are decoded.

    Args:
        seq: creation order (newest first = highest seq).
        id: the job id.
        owner: the submitting user.
        type: the job type.
        input: the validated input object.
        webhook: ``{"url", "secret"?, "events"}`` or None.
        status: the job's status string.
    """

    seq: int
    id: str
    owner: str
    type: str
    input: Any
    webhook: dict[str, Any] | None
    priority: int
    status: str
    leased: int
    progress_current: int | None
    progress_total: int | None
    progress_message: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    completed_at: float | None
    cancelled_at: float | None
    expires_at: float | None
    output: Any
    error: dict[str, Any] | None
    result_path: str | None
    result_type: str | None
    result_size: int | None
    result_etag: str | None
    result_name: str | None
    original_job_id: str | None
    attempt: int
    base_url: str
    correlation_id: str | None
    estimated_seconds: float
    runs: int

    @property
    def terminal(self) -> bool:
        """True for completed, failed and cancelled."""
        return self.status in TERMINAL


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery (the secret stays in the store; it is never shown).

    Args:
        id: the delivery id (sent as ``X-Webhook-Delivery`` and ``webhook-id``).
        state: ``pending``, ``delivered`` or ``failed``.
    """

    id: str
    job_id: str
    owner: str
    url: str
    secret: str | None
    event: str
    payload: bytes
    state: str
    attempts: int
    last_error: str | None
    last_status: int | None
    created_at: float
    updated_at: float

    def __repr__(self) -> str:
        return f"Delivery(id={self.id!r}, job_id={self.job_id!r}, state={self.state!r})"


@dataclass(frozen=True)
class KeyState:
    """The outcome of reserving an idempotency key.

    Args:
        outcome: ``reserved`` (go ahead), ``replay``, ``mismatch`` or ``in_flight``.
        job_id: the job made with this key, for ``replay``.
        response: the stored response body, for ``replay``.
    """

    outcome: Literal["reserved", "replay", "mismatch", "in_flight"]
    job_id: str | None = None
    response: dict[str, Any] | None = None


@dataclass(frozen=True)
class NameRecord:
    """A name a user gave to one of their jobs (an Azure resource of the reference server).

    Args:
        job_id: the job the name points at now.
        note: what the job does to the named thing (``Creating``, ``Updating``).
        updated_at: when the name was last pointed.
    """

    job_id: str
    note: str
    updated_at: float


@dataclass(frozen=True)
class FeedEvent:
    """One event as the feed holds it: its place in the sequence across all jobs.

    Args:
        seq: the feed's sequence number (increases across every job of the store).
        job_id: the job.
        job_type: the job's type (for ``type=`` filters without reading the job).
        event_id: the event's id in the job's own log.
        event: ``status``, ``progress`` or ``complete``.
        data: the event's JSON data, encoded.
    """

    seq: int
    job_id: str
    job_type: str
    event_id: int
    event: str
    data: str


# ---- write models ----------------------------------------------------------------------
@dataclass(frozen=True)
class NewJob:
    """A job to create: it starts ``pending``; the store adds the id, times and defaults.

    Args:
        owner: the submitting user (a retry keeps the original owner).
        type: the job type.
        input: the validated input object.
        base_url: the API origin the client used (for URLs in webhooks and events).
        webhook: ``{"url", "secret"?, "events"}`` or None.
        priority: higher runs first.
        correlation_id: the submit's ``X-Correlation-Id``.
        estimated_seconds: how long the job should run.
        original_job_id: the job this one retries.
        attempt: 1 for a submit, one more for each retry along the chain.
    """

    owner: str
    type: str
    input: Any
    base_url: str
    webhook: dict[str, Any] | None = None
    priority: int = 0
    correlation_id: str | None = None
    estimated_seconds: float = 0.0
    original_job_id: str | None = None
    attempt: int = 1

    def fields(self, job_id: str, now: float) -> dict[str, Any]:
        """The new job's stored fields (without ``seq``, which the store assigns).

        Args:
            job_id: its id.
            now: the creation time.
        """
        made = {"id": job_id, "status": "pending", "created_at": now, "updated_at": now}
        return {**made, **dataclasses.asdict(self)}


class JobChanges(TypedDict, total=False):
    """Fields ``update_job`` may change (only those given change)."""

    status: str
    leased: int
    runs: int
    progress_current: int | None
    progress_total: int | None
    progress_message: str | None
    updated_at: float
    started_at: float | None
    completed_at: float | None
    cancelled_at: float | None
    expires_at: float | None
    output: Any
    error: dict[str, Any] | None
    result_path: str | None
    result_type: str | None
    result_size: int | None
    result_etag: str | None
    result_name: str | None


@dataclass(frozen=True)
class NewDelivery:
    """A webhook delivery to make (stored ``pending`` before its first attempt).

    Args:
        job_id: the job it reports on.
        owner: the job's owner.
        url: the target.
        secret: signs the delivery when set.
        event: the webhook event name.
        payload: the exact JSON body (the signatures cover these bytes).
    """

    job_id: str
    owner: str
    url: str
    secret: str | None
    event: str
    payload: bytes


class DeliveryChanges(TypedDict, total=False):
    """Fields ``update_delivery`` may change."""

    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    updated_at: float


# ---- the interface, one Protocol per concern --------------------------------------------
class JobTable(Protocol):
    """Jobs: create, read, change conditionally, list, expire, purge."""

    def insert_job(self, job_id: str, job: NewJob, now: float) -> JobRecord:
        """Insert a pending job (and queue it).

        Args:
            job_id: its id.
            job: what to create.
            now: the creation time.
        """

    def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or None."""

    def get_jobs(self, job_ids: list[str]) -> list[JobRecord | None]:
        """The jobs in the order asked, None for each that does not exist (batched reads).

        Args:
            job_ids: the jobs.
        """

    def update_job(
        self, job_id: str, *, where_status: tuple[str, ...] = (), **changes: Unpack[JobChanges]
    ) -> bool:
        """Change fields, only when the status is one of ``where_status`` (empty: any).

        Args:
            job_id: the job.
            where_status: allowed current statuses.
            changes: new values.

        Returns:
            True when the job changed.
        """

    def list_jobs(
        self,
        *,
        owner: str | None,
        statuses: list[str],
        job_type: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[JobRecord], int]:
        """Jobs newest first, filtered before paging; returns ``(page, total)``.

        Args:
            owner: only this user's jobs (None: everyone's).
            statuses: allowed statuses (empty: any).
            job_type: only this type.
            limit: page size.
            offset: jobs to skip.
        """

    def queue_ahead(self, job: JobRecord, now: float) -> float:
        """Estimated seconds of work queued or running ahead of a pending job.

        Args:
            job: the job.
            now: the current time.
        """

    def expired(self, now: float, grace: float) -> tuple[list[JobRecord], list[str]]:
        """Jobs whose result file expired, and ids of jobs past their grace period.

        Args:
            now: the current time.
            grace: seconds a job record outlives its ``expiresAt``.
        """

    def delete_job(self, job_id: str) -> None:
        """Remove a job with its events and deliveries (purge)."""


class WorkerClaims(Protocol):
    """Which worker runs which job: a job is claimed before it runs, so it never runs twice."""

    def release_leases(self) -> list[str]:
        """Give up the claims this process holds; returns ids of jobs made runnable again."""

    def claim_next(self, now: float) -> JobRecord | None:
        """Claim the next runnable job (one whose claim was lost first, then by priority, age)."""

    def renew_claim(self, job_id: str) -> bool:
        """Extend this process's claim on a running job; False when the claim was lost."""

    def release_claim(self, job_id: str) -> None:
        """Drop this process's claim after the job stopped running here."""


class EventLog(Protocol):
    """Each job's log of ``status``, ``progress`` and ``complete`` events (ids 1, 2, 3, ...)."""

    def add_event(self, job_id: str, event: str, data: dict[str, Any], now: float) -> int:
        """Append to the job's event log; returns the new id.

        Args:
            job_id: the job.
            event: ``status``, ``progress`` or ``complete``.
            data: the event's JSON data.
            now: the current time.
        """

    def last_event_id(self, job_id: str) -> int:
        """The newest event id of the job (0 when none)."""

    def events_after(self, job_id: str, after: int) -> list[tuple[int, str, str]]:
        """``(id, event, data)`` of the held events after ``after``, oldest first.

        Args:
            job_id: the job.
            after: the last id the client has.
        """

    def complete_event_id(self, job_id: str) -> int | None:
        """The id of the job's ``complete`` event, if it has one."""

    def feed_after(self, owner: str | None, after: int, limit: int) -> list[FeedEvent]:
        """Held events of the owner's jobs (None: everyone's) with ``seq > after``, oldest first.

        Args:
            owner: whose jobs.
            after: the last feed position the client has.
            limit: at most this many.
        """

    def feed_bounds(self, owner: str | None) -> tuple[int, int]:
        """``(floor, last)``: every event of the owner's jobs after ``floor`` is still held,
        and ``last`` is the newest position the store ever gave (any owner's).

        Args:
            owner: whose jobs (None: everyone's).
        """

    def feed_heads(self, job_ids: list[str]) -> dict[str, int]:
        """The feed position of each job's newest event (jobs without one are left out).

        Args:
            job_ids: the jobs.
        """


class IdempotencyKeys(Protocol):
    """Idempotency keys per user: reserved before any work, so one key makes one job."""

    def reserve_key(self, owner: str, key: str, fingerprint: str, now: float) -> KeyState:
        """Reserve an Idempotency-Key for this request, or say why not (atomically).

        Args:
            owner: the user (keys are per user).
            key: the key.
            fingerprint: hash of the canonical request.
            now: the current time.
        """

    def complete_key(self, owner: str, key: str, job_id: str, response: dict[str, Any]) -> None:
        """Remember the response made under a reserved key.

        Args:
            owner: the user.
            key: the key.
            job_id: the job created.
            response: the body to replay.
        """

    def release_key(self, owner: str, key: str) -> None:
        """Forget a reservation whose request failed before making a job.

        Args:
            owner: the user.
            key: the key.
        """

    def purge_keys(self, now: float) -> int:
        """Drop expired keys and abandoned reservations; returns how many."""

    def drop_in_flight_keys(self) -> None:
        """At start-up of a single-process store: no request survived, none is in flight."""


class JobNames(Protocol):
    """Names per user that point at one job at a time: the Azure dialect's resources.

    Pointing is a compare-and-set on the job the name points at, so of two requests
    racing to change one name exactly one wins, whichever process they reach. A name
    outlives the job it points at (the reader finds the job gone: 404).
    """

    def point_name(
        self, owner: str, name: str, job_id: str, note: str, now: float, *, was: str | None
    ) -> bool:
        """Point ``name`` at ``job_id`` if it points at ``was`` now (None: it is free).

        Args:
            owner: the user (names are per user).
            name: the name.
            job_id: the job it should point at.
            note: stored with it (``NameRecord.note``).
            now: the current time.
            was: the job it must point at now, or None for a free name.

        Returns:
            True when the name changed.
        """

    def get_name(self, owner: str, name: str) -> NameRecord | None:
        """Where the name points, or None for a free name."""

    def drop_name(self, owner: str, name: str, job_id: str) -> bool:
        """Free the name if it points at ``job_id``; True when it did."""


class WebhookDeliveries(Protocol):
    """Webhook deliveries, kept so they survive restarts and failed ones can be redelivered."""

    def add_delivery(self, delivery_id: str, delivery: NewDelivery, now: float) -> Delivery:
        """Store a pending delivery.

        Args:
            delivery_id: its id.
            delivery: what to deliver.
            now: the creation time.
        """

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """The delivery, or None."""

    def update_delivery(self, delivery_id: str, **changes: Unpack[DeliveryChanges]) -> None:
        """Record an attempt's outcome.

        Args:
            delivery_id: the delivery.
            changes: new values.
        """

    def deliveries(self, state: str) -> list[Delivery]:
        """Deliveries in a state, oldest first.

        Args:
            state: ``pending``, ``delivered`` or ``failed``.
        """


class ChangeFeed(Protocol):
    """A running subscription to changes made by other processes."""

    async def stop(self) -> None:
        """End the subscription."""


class JobStore(
    JobTable, WorkerClaims, EventLog, IdempotencyKeys, JobNames, WebhookDeliveries, Protocol
):
    """The whole store: the six concerns, plus its connection and shared secrets."""

    def close(self) -> None:
        """Release the connection."""

    def ping(self) -> None:
        """Raise when the store cannot be reached (start-up checks)."""

    def secret(self, name: str) -> bytes:
        """A random secret kept in the store, the same for every process and restart."""

    async def follow_changes(
        self, notify: Callable[[str], None], notify_all: Callable[[], None]
    ) -> ChangeFeed | None:
        """Wake this process's waiters on changes other processes make; None for one process.

        Args:
            notify: called with the id of a job that changed.
            notify_all: called when changes may have been missed (every waiter re-reads).
        """
