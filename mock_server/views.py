"""The JSON bodies of jobs as the API shows them, and the poll hints derived from progress."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ServerConfig
from .events import EventHub
from .faults import FaultSettings
from .lifecycle import Lifecycle, iso
from .middleware import RequestStats
from .store_api import JobRecord, JobStore
from .webhooks import WebhookSender
from .worker import WorkerPool

__all__ = ["Server", "estimate", "job_body", "submit_body"]

MAX_HINT = 30


@dataclass
class Server:
    """Everything a route needs, kept on ``app.state.server``.

    Args:
        config: settings.
        store: database.
        hub: change notifications.
        lifecycle: transitions.
        pool: workers.
        webhooks: delivery sender.
        faults: fault settings.
        stats: request counts.
        results_dir: where results live.
    """

    config: ServerConfig
    store: JobStore
    hub: EventHub
    lifecycle: Lifecycle
    pool: WorkerPool
    webhooks: WebhookSender
    faults: FaultSettings
    stats: RequestStats
    results_dir: Path


def estimate(server: Server, job: JobRecord, now: float) -> tuple[float, int]:
    """``(estimated completion time, retry-after hint in whole seconds)`` of a live job.

    Args:
        server: the server.
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
        ahead = server.store.queue_ahead(job, now) / max(1, server.config.workers)
        remaining = ahead + job.estimated_seconds
    hint = max(1, min(MAX_HINT, math.ceil(remaining / 2)))
    return now + remaining, hint


def job_body(server: Server, job: JobRecord, base: str, now: float) -> dict[str, Any]:
    """The status body of a job.

    Args:
        server: the server.
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
        completion, hint = estimate(server, job, now)
        body["estimatedCompletion"] = iso(completion)
        body["retryAfter"] = hint
    elif job.status == "completed":
        body["resultUrl"] = server.lifecycle.result_url(job, base)
        body["completedAt"] = iso(job.completed_at)
        body["expiresAt"] = iso(job.expires_at)
        if job.output is not None:
            body["output"] = job.output
    elif job.status == "failed":
        body["error"] = job.error
        body["failedAt"] = iso(job.completed_at)
        body["expiresAt"] = iso(job.expires_at)
        if job.error and job.error.get("retryable"):
            body["retryUrl"] = f"{base}/api/jobs/{job.id}/retry"
    elif job.status == "cancelled":
        body["cancelledAt"] = iso(job.cancelled_at)
        body["expiresAt"] = iso(job.expires_at)
    return body


def submit_body(server: Server, job: JobRecord, base: str, now: float) -> dict[str, Any]:
    """The body of a 202 submit answer.

    Args:
        server: the server.
        job: the new job.
        base: the API base URL.
        now: the current time.
    """
    completion, _ = estimate(server, job, now)
    return {
        "jobId": job.id,
        "status": "pending",
        "statusUrl": f"{base}/api/jobs/{job.id}",
        "eventsUrl": f"{base}/api/jobs/{job.id}/events",
        "estimatedWaitTime": max(0, round((completion - now) * 1000)),
    }
