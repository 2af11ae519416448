"""Routes of the job resource: submit, status (with long poll), list, cancel, retry."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from ..store.base import JobRecord, NewJob
from .deps import EngineDep, UserDep
from .jobaccess import (
    KEY_PATTERN,
    accepted,
    base_url,
    cancel_visible,
    check_key,
    fingerprint,
    hold,
    slow_delay,
    visible_job,
    with_key,
)
from .problems import ProblemError, problem_responses
from .schemas import (
    CancelBody,
    JobBody,
    JobList,
    RetryBody,
    StatusName,
    SubmitBody,
    SubmitRequest,
)
from .submission import create, prepare
from .views import job_body, submit_body

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["jobs"])


@router.post(
    "/jobs",
    status_code=202,
    response_model=SubmitBody,
    responses={
        200: {"model": SubmitBody, "description": "Replayed (Idempotent-Replayed: true)"},
        **problem_responses(409),
    },
    summary="Submit a job",
)
async def submit_job(
    request: Request,
    engine: EngineDep,
    user: UserDep,
    spec: SubmitRequest,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)
    ] = None,
    x_correlation_id: Annotated[
        str | None, Header(alias="X-Correlation-Id", max_length=200)
    ] = None,
) -> Response:
    """Queue a job; ``202`` with its Location, or ``200`` when replayed by Idempotency-Key.

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        user: the authenticated user (the job's owner).
        spec: the submit body.
        idempotency_key: the Idempotency-Key header.
        x_correlation_id: the X-Correlation-Id header (stored with the job).
    """
    base = base_url(request)
    submission = prepare(engine, user, spec, base=base, correlation_id=x_correlation_id)

    def answer(job: JobRecord) -> dict[str, Any]:
        return submit_body(engine, job, base, engine.lifecycle.clock())

    job, body, replayed = await create(request, engine, user, submission, idempotency_key, answer)
    if engine.config.misbehave.blocking_submit and not replayed:  # anti-pattern 6, on purpose
        job = await hold(engine, job, engine.config.max_wait, lambda j: j.terminal)
        body = {**body, "status": job.status}
    return accepted(engine, job, body, replayed)


def _prefer(prefer: str | None) -> tuple[float | None, bool]:
    """``Prefer``'s ``wait=N`` (None: absent or not a number) and whether it names ``progress``."""
    wait: float | None = None
    progress = False
    for part in re.split(r"[,;]", prefer or ""):
        name, _, value = part.strip().partition("=")
        name = name.strip().lower()
        if name == "wait" and wait is None:
            try:
                wait = max(0.0, float(value.strip().strip('"')))
            except ValueError:
                wait = None
        elif name == "progress":
            progress = True
    return wait, progress


def _change_key(job: JobRecord, progress: bool) -> tuple[Any, ...]:
    if not progress:
        return (job.status,)
    return (job.status, job.progress_current, job.progress_total, job.progress_message)


@router.get(
    "/jobs/{job_id}",
    response_model=JobBody,
    responses={
        303: {
            "model": JobBody,
            "description": "Completed (redirect mode): Location is the resultUrl",
        },
        **problem_responses(404),
    },
    summary="Get a job's status (optionally long-polling)",
)
async def get_job(
    request: Request,
    engine: EngineDep,
    user: UserDep,
    job_id: str,
    wait: Annotated[float | None, Query(ge=0, le=3600, description="long-poll seconds")] = None,
    progress: Annotated[
        bool, Query(description="a long poll also ends at a progress step (progress=1)")
    ] = False,
    prefer: Annotated[str | None, Header(alias="Prefer")] = None,
) -> Response:
    """The job's status; with ``?wait=N`` or ``Prefer: wait=N`` held until its status changes
    (or, with ``progress=1`` or ``Prefer: wait=N, progress``, until it makes progress too).

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        user: the authenticated user.
        job_id: the job.
        wait: long-poll seconds from the query.
        progress: a progress step ends the long poll too.
        prefer: the Prefer header (``wait=N``, ``progress``).
    """
    job = visible_job(engine, user, job_id)
    prefer_wait, prefer_progress = _prefer(prefer)
    header_wait = prefer_wait if wait is None else None
    seconds = min(wait if wait is not None else (header_wait or 0.0), engine.config.max_wait)
    with_progress = progress or prefer_progress
    initial = _change_key(job, with_progress)
    job = await hold(
        engine, job, seconds, lambda j: j.terminal or _change_key(j, with_progress) != initial
    )
    base = base_url(request)
    body = job_body(engine, job, base, engine.lifecycle.clock())
    headers = {"Cache-Control": "no-store"}
    if header_wait is not None:
        applied = f"wait={seconds:g}"
        headers["Preference-Applied"] = applied + (", progress" if prefer_progress else "")
    if "retryAfter" in body:
        headers["Retry-After"] = str(body["retryAfter"])
    if job.status == "completed" and engine.config.redirect_completed:
        headers["Location"] = body["resultUrl"]
        return JSONResponse(body, status_code=303, headers=headers)
    return JSONResponse(body, headers=headers)


@router.get(
    "/jobs",
    response_model=JobList,
    summary="List jobs, newest first",
)
async def list_jobs(
    request: Request,
    engine: EngineDep,
    user: UserDep,
    status: Annotated[list[StatusName] | None, Query(description="repeatable")] = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    """The caller's jobs (an admin's: everyone's), filtered, then paged.

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        user: the authenticated user.
        status: statuses to include (repeatable).
        type: only jobs of this type.
        limit: page size (1..100).
        offset: jobs to skip.
    """
    statuses = [str(s) for s in status or []]
    owner = None if user.admin else user.name
    jobs, total = engine.store.list_jobs(
        owner=owner, statuses=statuses, job_type=type, limit=limit, offset=offset
    )
    now, base = engine.lifecycle.clock(), base_url(request)
    end = offset + len(jobs)
    body = {
        "jobs": [job_body(engine, j, base, now) for j in jobs],
        "total": total,
        "nextOffset": end if end < total else None,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.delete(
    "/jobs/{job_id}",
    response_model=CancelBody,
    responses=problem_responses(404, 409),
    summary="Cancel a job",
)
async def cancel_job(engine: EngineDep, user: UserDep, job_id: str) -> Response:
    """Cancel a pending or running job (a running job stops at its next progress step).

    \f
    Args:
        engine: the engine.
        user: the authenticated user.
        job_id: the job.
    """
    if engine.config.misbehave.no_cancel:  # anti-pattern 5, on purpose
        raise ProblemError(405, "this server does not cancel jobs", headers={"Allow": "GET"})
    cancel_visible(engine, user, job_id)
    return JSONResponse({"jobId": job_id, "status": "cancelled"})


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=RetryBody,
    responses={
        200: {"model": RetryBody, "description": "Replayed (Idempotent-Replayed: true)"},
        **problem_responses(404, 409),
    },
    summary="Retry a failed job",
)
async def retry_job(
    request: Request,
    engine: EngineDep,
    user: UserDep,
    job_id: str,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)
    ] = None,
) -> Response:
    """Make a new job with the failed job's type and input (only when retryable).

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        user: the authenticated user.
        job_id: the job.
        idempotency_key: the Idempotency-Key header.
    """
    check_key(engine.config, idempotency_key)
    parent = visible_job(engine, user, job_id)
    fp = fingerprint({"op": "retry", "jobId": job_id})
    base = base_url(request)

    def make() -> tuple[JobRecord, dict[str, Any]]:
        if parent.status != "failed" or not (parent.error or {}).get("retryable"):
            why = "not retryable" if parent.status == "failed" else parent.status
            raise ProblemError(
                409, f"only a failed, retryable job can be retried; this one is {why}"
            )
        job = engine.lifecycle.create(
            NewJob(
                owner=parent.owner,
                type=parent.type,
                input=parent.input,
                webhook=parent.webhook,
                priority=parent.priority,
                base_url=base,
                correlation_id=parent.correlation_id,
                estimated_seconds=parent.estimated_seconds,
                original_job_id=parent.id,
                attempt=parent.attempt + 1,
            )
        )
        engine.pool.wake()
        return job, {
            "jobId": job.id,
            "originalJobId": parent.id,
            "status": "pending",
            "statusUrl": f"{base}/api/jobs/{job.id}",
            "eventsUrl": f"{base}/api/jobs/{job.id}/events",
        }

    slow = slow_delay(request)
    job, body, replayed = await with_key(engine, user.name, idempotency_key, fp, make, slow)
    return accepted(engine, job, body, replayed)
