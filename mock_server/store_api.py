"""The store interface: what routes, transitions and workers may ask of a store.

Two stores implement it: ``store.Store`` (SQLite, one process, the default) and
``store_redis.RedisStore`` (the seed's Redis layout, shared by several API and
worker processes). Callers never know which one is behind ``JobStore``.

Every method is synchronous. On SQLite a method is atomic because it runs on the
event loop's thread without an ``await``; on Redis each method that must be
atomic is one script or one ``WATCH``/``MULTI`` transaction, because other
processes write the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .store_deliveries import Delivery
from .store_keys import KeyState

__all__ = ["Delivery", "JobRecord", "JobStore", "KeyState"]


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
        return self.status in ("completed", "failed", "cancelled")


class JobStore(Protocol):
    """Jobs, their event logs, idempotency keys, webhook deliveries and worker claims."""

    def close(self) -> None:
        """Release the connection."""

    def secret(self, name: str) -> bytes:
        """A random secret kept in the store, the same for every process and restart.

        Args:
            name: which secret.
        """

    # ---- jobs
    def insert_job(self, **fields: Any) -> JobRecord:
        """Insert a job.

        Args:
            fields: the job's fields (at least id, owner, type, input, status, times, base_url).
        """

    def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or None.

        Args:
            job_id: its id.
        """

    def update_job(self, job_id: str, *, where_status: tuple[str, ...] = (), **fields: Any) -> bool:
        """Update fields, only when the status is one of ``where_status`` (empty: any).

        Args:
            job_id: the job.
            where_status: allowed current statuses.
            fields: new values.

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
        """Remove a job with its events and deliveries (purge).

        Args:
            job_id: the job.
        """

    # ---- worker claims
    def release_leases(self) -> list[str]:
        """Give up the claims this process holds; returns ids of jobs made runnable again."""

    def claim_next(self, now: float) -> JobRecord | None:
        """Claim the next runnable job (one whose claim was lost first, then by priority, age).

        Args:
            now: the current time.
        """

    def renew_claim(self, job_id: str) -> bool:
        """Extend this process's claim on a running job; False when the claim was lost.

        Args:
            job_id: the job.
        """

    def release_claim(self, job_id: str) -> None:
        """Drop this process's claim after the job stopped running here.

        Args:
            job_id: the job.
        """

    # ---- events
    def add_event(self, job_id: str, event: str, data: dict[str, Any], now: float) -> int:
        """Append to the job's event log; returns the new id (1, 2, 3, ... per job).

        Args:
            job_id: the job.
            event: ``status``, ``progress`` or ``complete``.
            data: the event's JSON data.
            now: the current time.
        """

    def last_event_id(self, job_id: str) -> int:
        """The newest event id of the job (0 when none).

        Args:
            job_id: the job.
        """

    def events_after(self, job_id: str, after: int) -> list[tuple[int, str, str]]:
        """``(id, event, data)`` of the held events after ``after``, oldest first.

        Args:
            job_id: the job.
            after: the last id the client has.
        """

    def complete_event_id(self, job_id: str) -> int | None:
        """The id of the job's ``complete`` event, if it has one.

        Args:
            job_id: the job.
        """

    # ---- idempotency keys
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
        """Drop expired keys and abandoned reservations; returns how many.

        Args:
            now: the current time.
        """

    def drop_in_flight_keys(self) -> None:
        """At start-up of a single-process store: no request survived, none is in flight."""

    # ---- webhook deliveries
    def add_delivery(self, **fields: Any) -> Delivery:
        """Store a delivery to make.

        Args:
            fields: id, job_id, owner, url, secret, event, payload, created_at.
        """

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """The delivery, or None.

        Args:
            delivery_id: its id.
        """

    def update_delivery(self, delivery_id: str, **fields: Any) -> None:
        """Record an attempt's outcome.

        Args:
            delivery_id: the delivery.
            fields: new values.
        """

    def deliveries(self, state: str) -> list[Delivery]:
        """Deliveries in a state, oldest first.

        Args:
            state: ``pending``, ``delivered`` or ``failed``.
        """
