"""The JSON bodies of jobs as the API shows them, and the poll hints derived from progress."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..engine.lifecycle import iso
from ..engine.runtime import Engine
from ..store.base import JobRecord

__all__ = ["estimate", "job_body", "job_viewer", "submit_body"]

MAX_HINT = 30


def estimate(engine: Engine, job: JobRecord, now: float) -> tuple[float, int]:
    """``(estimated completion time, retry-after hint in whole seconds)`` of a live job.

    Args:
        engine: the engine (its queue and worker count).
        job: a pending or processing job.
        now: the current time.
    """
    if job.status == "processing" and job.started_at is not None:
        elapsed = max(0.0, now - job.started_at)
        total = job.progress_total or 0
        done = job.progress_current or 0
        if total > 0 and done > 0 and elapsed > 0:
            remaining = elapsed * (total - done) / done
        else:
            remaining = max(0.0, job.estimated_seconds - elapsed)
    else:
        ahead = engine.store.queue_ahead(job, now) / max(1, engine.config.workers)
        remaining = ahead + job.estimated_seconds
    hint = max(1, min(MAX_HINT, math.ceil(remaining / 2)))
    return now + remaining, hint


def job_body(engine: Engine, job: JobRecord, base: str, now: float) -> dict[str, Any]:
    """The status body of a job.

    Args:
        engine: the engine.
        job: the job.
        base: the API base URL of this request (no trailing slash).
        now: the current time.
    """
    body: dict[str, Any] = {
        "jobId": job.id,
        "type": job.type,
        "status": job.status,
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
        "statusUrl": f"{base}/api/jobs/{job.id}",
        "eventsUrl": f"{base}/api/jobs/{job.id}/events",
        "priority": job.priority,
        "attempt": job.attempt,
    }
    if job.correlation_id:
        body["correlationId"] = job.correlation_id
    if job.original_job_id:
        body["originalJobId"] = job.original_job_id
    if job.progress_total is not None:
        progress: dict[str, Any] = {
            "current": job.progress_current or 0,
            "total": job.progress_total,
        }
        if job.progress_message:
            progress["message"] = job.progress_message
        body["progress"] = progress
    if job.started_at is not None:
        body["startedAt"] = iso(job.started_at)
    if job.status in ("pending", "processing"):
        completion, hint = estimate(engine, job, now)
        body["estimatedCompletion"] = iso(completion)
        if not engine.config.misbehave.no_retry_after:
            body["retryAfter"] = hint
    elif job.status == "completed":
        body["resultUrl"] = engine.lifecycle.result_url(job, base)
        body["completedAt"] = iso(job.completed_at)
        if job.output is not None:
            body["output"] = job.output
    elif job.status == "failed":
        body["error"] = job.error
        body["failedAt"] = iso(job.completed_at)
        if job.error and job.error.get("retryable"):
            body["retryUrl"] = f"{base}/api/jobs/{job.id}/retry"
    elif job.status == "cancelled":
        body["cancelledAt"] = iso(job.cancelled_at)
    if job.terminal and job.expires_at is not None:  # None: kept for ever (no-expiry)
        body["expiresAt"] = iso(job.expires_at)
    return body


def job_viewer(engine: Engine, base: str) -> Callable[[JobRecord], dict[str, Any]]:
    """``job_body`` for one client, at the time each job is shown (the ``job`` of events).

    Args:
        engine: the engine.
        base: the API origin the client used.
    """

    def view(job: JobRecord) -> dict[str, Any]:
        return job_body(engine, job, base, engine.lifecycle.clock())

    return view


def submit_body(engine: Engine, job: JobRecord, base: str, now: float) -> dict[str, Any]:
    """The body of a 202 submit answer.

    Args:
        engine: the engine.
        job: the new job.
        base: the API base URL.
        now: the current time.
    """
    completion, _ = estimate(engine, job, now)
    return {
        "jobId": job.id,
        "status": "pending",
        "statusUrl": f"{base}/api/jobs/{job.id}",
        "eventsUrl": f"{base}/api/jobs/{job.id}/events",
        "estimatedWaitTime": max(0, round((completion - now) * 1000)),
    }
