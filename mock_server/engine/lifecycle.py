"""Job state transitions: one place that updates the row, logs the event and notifies.

Each method is synchronous (no ``await``), so a transition, its event-log entry,
the wake-up of followers and the queuing of webhooks happen as one step. A
transition is conditional on the current status, so terminal states never
change again and a cancelled job's result is never published.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from ..config import ServerConfig
from ..store.base import JobRecord, JobStore, NewJob
from .hub import EventHub
from .jobtypes import JobOutcome

__all__ = ["Lifecycle", "WebhookQueue", "iso"]


def iso(ts: float | None) -> str | None:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-27T17:40:00.123Z``.

    Args:
        ts: unix seconds, or None.
    """
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhookQueue(Protocol):
    """Where transitions hand webhook events."""

    def enqueue(self, job: JobRecord, event: str, data: dict[str, Any]) -> None:
        """Queue deliveries of ``event`` for the job's webhook subscription.

        Args:
            job: the job.
            event: the webhook event name.
            data: the payload's ``data``.
        """


class Lifecycle:
    """State transitions of jobs.

    Args:
        store: the database.
        hub: change notifications.
        config: server settings.
        clock: the time source (unix seconds).
    """

    def __init__(
        self,
        store: JobStore,
        hub: EventHub,
        config: ServerConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.hub = hub
        self.config = config
        self.clock = clock
        self.webhooks: WebhookQueue | None = None
        self._sign_key = store.secret("result-signing")

    # ---- URLs -------------------------------------------------------------------
    def result_url(self, job: JobRecord, base_url: str) -> str:
        """The job's result URL: on ``base_url``, or signed on ``--result-base-url``.

        Args:
            job: a completed job.
            base_url: the API origin the client used (no trailing slash).
        """
        path = f"/api/jobs/{job.id}/result"
        if self.config.result_base_url is None:
            return base_url + path
        expires = int(job.expires_at or 0)
        query = urlencode({"expires": expires, "sig": self.signature(job.id, expires)})
        return f"{self.config.result_base_url.rstrip('/')}{path}?{query}"

    def signature(self, job_id: str, expires: int) -> str:
        """HMAC-SHA256 of ``job_id:expires`` with the server's stored key.

        Args:
            job_id: the job.
            expires: unix seconds after which the URL is refused.
        """
        msg = f"{job_id}:{expires}".encode()
        return hmac.new(self._sign_key, msg, hashlib.sha256).hexdigest()

    def signature_valid(self, job_id: str, expires: str, sig: str) -> bool:
        """Whether a signed result URL's query is genuine (expiry is checked by the route).

        Args:
            job_id: the job in the path.
            expires: the ``expires`` query value.
            sig: the ``sig`` query value.
        """
        if not expires.isdigit() or len(expires) > 12:
            return False
        return hmac.compare_digest(self.signature(job_id, int(expires)), sig)

    # ---- transitions --------------------------------------------------------------
    def _event(self, job: JobRecord, event: str, data: dict[str, Any]) -> int:
        event_id = self.store.add_event(job.id, event, data, self.clock())
        self.hub.notify(job.id)
        if self.webhooks is not None:
            if event == "progress":
                self.webhooks.enqueue(job, "progress", {"status": job.status, "progress": data})
            elif event == "complete":
                self.webhooks.enqueue(job, str(data["status"]), data)
        return event_id

    def create(self, new: NewJob) -> JobRecord:
        """Insert a new pending job (with a fresh UUID4 id) and log its first ``status`` event.

        Args:
            new: what to create.
        """
        job = self.store.insert_job(str(uuid.uuid4()), new, self.clock())
        self._event(job, "status", {"status": "pending"})
        return job

    def started(self, job: JobRecord) -> None:
        """Log that a leased job runs (``status`` event on its first run).

        Args:
            job: the job as claimed.
        """
        if job.runs == 1:
            self._event(job, "status", {"status": "processing"})
        else:
            self.store.update_job(job.id, progress_current=0, progress_message="restarted")
            fresh = self.store.get_job(job.id) or job
            self._event(fresh, "status", {"status": "processing", "restarted": True})

    def progress(self, job_id: str, current: int, total: int, message: str | None) -> bool:
        """Record progress of a processing job; False when it is no longer processing.

        Args:
            job_id: the job.
            current: steps done.
            total: steps in all.
            message: a human note.
        """
        if self.config.misbehave.no_progress:  # the work moves; nobody is told
            job = self.store.get_job(job_id)
            return job is not None and job.status == "processing"
        ok = self.store.update_job(
            job_id,
            where_status=("processing",),
            progress_current=current,
            progress_total=total,
            progress_message=message,
            updated_at=self.clock(),
        )
        job = self.store.get_job(job_id) if ok else None
        if job is None:
            return False
        data: dict[str, Any] = {"current": current, "total": total}
        if message:
            data["message"] = message
        self._event(job, "progress", data)
        return True

    def complete(self, job_id: str, outcome: JobOutcome) -> bool:
        """Publish a result, unless the job was cancelled meanwhile.

        Args:
            job_id: the job.
            outcome: what the runner produced.
        """
        now = self.clock()
        ok = self.store.update_job(
            job_id,
            where_status=("processing",),
            status="completed",
            leased=0,
            completed_at=now,
            updated_at=now,
            expires_at=self._expiry(now),
            output=outcome.output,
            result_path=str(outcome.path),
            result_type=outcome.content_type,
            result_size=outcome.size,
            result_etag=outcome.sha256,
            result_name=outcome.filename,
        )
        job = self.store.get_job(job_id) if ok else None
        if job is None:
            return False
        self._event(
            job,
            "complete",
            {"status": "completed", "resultUrl": self.result_url(job, job.base_url)},
        )
        return True

    def fail(self, job_id: str, code: str, message: str, retryable: bool) -> bool:
        """Mark a processing job failed.

        Args:
            job_id: the job.
            code: error code.
            message: human sentence.
            retryable: whether retry is allowed.
        """
        now = self.clock()
        error = {"code": code, "message": message, "retryable": retryable}
        ok = self.store.update_job(
            job_id,
            where_status=("processing",),
            status="failed",
            leased=0,
            error=error,
            completed_at=now,
            updated_at=now,
            expires_at=self._expiry(now),
        )
        job = self.store.get_job(job_id) if ok else None
        if job is None:
            return False
        self._event(job, "complete", {"status": "failed", "error": error})
        return True

    def cancel(self, job_id: str) -> bool:
        """Cancel a pending or processing job; False when it was not in one of those states.

        Args:
            job_id: the job.
        """
        now = self.clock()
        ok = self.store.update_job(
            job_id,
            where_status=("pending", "processing"),
            status="cancelled",
            cancelled_at=now,
            updated_at=now,
            expires_at=self._expiry(now),
        )
        job = self.store.get_job(job_id) if ok else None
        if job is None:
            return False
        self._event(job, "complete", {"status": "cancelled"})
        return True

    def _expiry(self, now: float) -> float | None:
        """When a job ending ``now`` expires (``--job-ttl``); None: kept for ever (no-expiry)."""
        return None if self.config.misbehave.no_expiry else now + self.config.job_ttl

    def result_grace(self) -> float:
        """Seconds a job record outlives its ``expiresAt`` (410 for the result meanwhile)."""
        return self.config.result_grace
