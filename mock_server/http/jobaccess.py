"""Helpers shared by the job routes of every dialect: the caller's view of jobs,
idempotent creation, cancelling, and holding a request until a job changes.

``with_key`` runs a job-creating step under an Idempotency-Key: it reserves the
key first (one atomic store step decides between concurrent requests), answers
409 while the first request is in flight, 422 for another payload, replays the
stored body, and forgets the reservation if the step fails. ``cancel`` is the
one cancel (409 for a finished job), ``hold`` the one long poll: it waits on the
engine's per-job wake-ups, never in a sleep loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from ..config import ServerConfig
from ..engine.runtime import Engine
from ..store.base import JobRecord
from .deps import User
from .problems import ProblemError
from .views import estimate

__all__ = [
    "KEY_PATTERN",
    "Made",
    "accepted",
    "base_url",
    "cancel",
    "cancel_visible",
    "check_key",
    "fingerprint",
    "hold",
    "slow_delay",
    "visible_job",
    "with_key",
]

Made = tuple[JobRecord, dict[str, Any]]
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
_KEY_RE = re.compile(KEY_PATTERN)


def base_url(request: Request) -> str:
    """The API origin as the client addressed it, without a trailing slash.

    Args:
        request: the request.
    """
    return str(request.base_url).rstrip("/")


def slow_delay(request: Request) -> float:
    """Seconds the ``slow`` fault holds this write after its key was reserved (0: none).

    Args:
        request: the request (``FaultMiddleware`` marks it).
    """
    return float(getattr(request.state, "slow_delay", 0.0))


def visible_job(engine: Engine, user: User, job_id: str) -> JobRecord:
    """The job if it exists and the caller may see it; else a 404 (no existence oracle).

    Args:
        engine: the engine.
        user: the caller.
        job_id: the job.
    """
    job = engine.store.get_job(job_id)
    sees_all = user.admin or engine.config.misbehave.leaky_ownership
    if job is None or (not sees_all and job.owner != user.name):
        raise ProblemError(404, f"no job with id {job_id!r}")
    return job


def cancel_visible(engine: Engine, user: User, job_id: str) -> None:
    """Cancel a job the caller may see (``DELETE /api/jobs/{id}``, the WebSocket's ``cancel``):
    404 as ``visible_job``, then as ``cancel``.

    Args:
        engine: the engine.
        user: the caller.
        job_id: the job.
    """
    cancel(engine, visible_job(engine, user, job_id))


def fingerprint(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of a request.

    Args:
        payload: what identifies the request.
    """
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(config: ServerConfig, key: str | None) -> None:
    """Refuse a malformed key, or a missing one when the server requires keys (400).

    Args:
        config: settings.
        key: the Idempotency-Key header.
    """
    if key is None:
        if config.require_idempotency_key:
            raise ProblemError(400, "this server requires an Idempotency-Key header")
        return
    if not _KEY_RE.fullmatch(key):
        raise ProblemError(400, "Idempotency-Key must be 1 to 255 visible ASCII characters")


async def with_key(
    engine: Engine,
    user: str,
    key: str | None,
    fp: str,
    make: Callable[[], Made],
    slow: float = 0.0,
) -> tuple[JobRecord, dict[str, Any], bool]:
    """Run ``make()`` under the idempotency key; returns (job, body, replayed).

    Args:
        engine: the engine (its store keeps the keys).
        user: the caller (keys are per user).
        key: the Idempotency-Key, or None for no deduplication.
        fp: the request's fingerprint.
        make: creates the job and its answer body (synchronously).
        slow: seconds the ``slow`` fault waits once the key is reserved.
    """
    store = engine.store
    if key is None or engine.config.misbehave.no_idempotency:  # no-idempotency: keys ignored
        if slow:
            await asyncio.sleep(slow)
        job, body = make()
        return job, body, False
    state = store.reserve_key(user, key, fp, engine.lifecycle.clock())
    if state.outcome == "in_flight":
        raise ProblemError(
            409,
            "a request with this Idempotency-Key is still being processed",
            headers={"Retry-After": "1"},
        )
    if state.outcome == "mismatch":
        raise ProblemError(422, "this Idempotency-Key was already used for a different request")
    if state.outcome == "replay":
        assert state.job_id is not None and state.response is not None
        existing = store.get_job(state.job_id)
        if existing is None:
            raise ProblemError(404, "the job made with this Idempotency-Key has expired")
        return existing, state.response, True
    try:
        if slow:
            await asyncio.sleep(slow)
        job, body = make()
    except BaseException:
        store.release_key(user, key)
        raise
    store.complete_key(user, key, job.id, body)
    return job, body, False


def accepted(engine: Engine, job: JobRecord, body: dict[str, Any], replayed: bool) -> Response:
    """The 202 answer, or 200 with ``Idempotent-Replayed: true`` for a replay.

    Args:
        engine: the engine.
        job: the job made (or replayed).
        body: the answer body.
        replayed: whether it came from the idempotency store.
    """
    headers = {"Location": f"/api/jobs/{job.id}"}
    if job.status in ("pending", "processing") and not engine.config.misbehave.no_retry_after:
        headers["Retry-After"] = str(estimate(engine, job, engine.lifecycle.clock())[1])
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=200 if replayed else 202, headers=headers)


def cancel(engine: Engine, job: JobRecord) -> None:
    """Cancel a pending or running job; a cancelled one stays so; 409 for a finished one.

    Args:
        engine: the engine.
        job: the job (visible to the caller).
    """
    if job.status in ("completed", "failed"):
        raise ProblemError(409, f"the job is {job.status}; it can no longer be cancelled")
    if job.status != "cancelled" and not engine.lifecycle.cancel(job.id):
        fresh = engine.store.get_job(job.id)
        if fresh is None or fresh.status != "cancelled":
            state = fresh.status if fresh else "gone"
            raise ProblemError(409, f"the job is {state}; it can no longer be cancelled")
    engine.pool.cancel(job.id)


async def hold(
    engine: Engine, job: JobRecord, seconds: float, done: Callable[[JobRecord], bool]
) -> JobRecord:
    """The job once ``done(job)`` holds or ``seconds`` passed (a long poll); 404 if it went.

    Waits on the engine's wake-ups of the job (taken before each read, so no change
    is missed), re-reading the job at each.

    Args:
        engine: the engine.
        job: the job as last read.
        seconds: how long at most (the caller caps it at ``--max-wait``).
        done: whether the job is worth answering with.
    """
    if seconds <= 0 or done(job):
        return job
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        wake = engine.hub.watch(job.id)
        current = engine.store.get_job(job.id)
        if current is None:
            raise ProblemError(404, f"no job with id {job.id!r}")
        job = current
        if done(job):
            return job
        if not await engine.hub.wait(job.id, wake, deadline - loop.time()):
            return engine.store.get_job(job.id) or job
