"""The plain ``202 + Location`` dialect (RFC 9110), as many in-house APIs and FHIR use it.

``POST /location/jobs`` answers ``202`` with ``Location`` (the status monitor)
and ``Retry-After``. The monitor answers ``202`` with ``X-Progress`` (percent)
while the job runs, ``303 See Other`` to the result once it completed, and,
since docs/operations.md ends a wait at a 4xx with that error: ``409`` naming the
job's error when it failed, ``410`` when it was cancelled. ``DELETE`` on the
monitor cancels. The result is the job's result, as ``/api`` serves it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response

from ...store.base import JobRecord
from ..jobaccess import KEY_PATTERN, cancel, visible_job
from ..problems import ProblemError, problem_responses
from ..routes_results import RESULT_RESPONSES, ConditionsDep, send_result
from ..schemas import SubmitRequest
from .common import (
    CallDep,
    SignedCallDep,
    answer,
    begin,
    ended,
    hint,
    link,
    operation_job,
    percent,
    reply,
)
from .models import LocationStatus, header

__all__ = ["router"]

router = APIRouter(prefix="/location", tags=["dialect: location"])

_SECONDS = "^[0-9]+$"
_ACCEPTED = {
    "Location": header("the status monitor of the job"),
    "Retry-After": header(
        "while the job runs (a replay of a finished one has none)", False, "^[0-9]+$"
    ),
}
_RUNNING = {
    "Retry-After": header("seconds until the next poll is useful", pattern=_SECONDS),
    "X-Progress": header("percent done, once known", required=False, pattern="^[0-9]{1,3}$"),
}


def _status(job: JobRecord) -> dict[str, Any]:
    body: dict[str, Any] = {"id": job.id, "status": job.status}
    done = percent(job)
    if done is not None:
        body["progress"] = done
    return body


@router.post(
    "/jobs",
    status_code=202,
    response_model=LocationStatus,
    responses={
        202: {"headers": _ACCEPTED, "description": "Accepted: poll the Location"},
        **problem_responses(409),
    },
    summary="Start a job (202 + Location)",
)
async def start(
    call: CallDep,
    spec: SubmitRequest,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)
    ] = None,
) -> Response:
    """Queue a job (the body of ``POST /api/jobs``); ``202`` with ``Location`` and hints.

    A replay of an Idempotency-Key answers the same ``202`` with
    ``Idempotent-Replayed: true``.

    \f
    Args:
        call: the request, its engine and caller (its query may hold knobs).
        spec: the job.
        idempotency_key: the Idempotency-Key header.
    """
    begun = await begin(
        call,
        spec,
        dialect="location",
        op="location:start",
        key=idempotency_key,
        body_of=lambda job: {"id": job.id, "status": "pending"},
    )
    job, state = begun.job, begun.state
    headers = {"Location": link(call, state, f"/location/jobs/{job.id}/status")}
    if not job.terminal:
        headers.update(state.retry_after(hint(call.engine, job)))
    return answer(begun, state, begun.body, 202, headers)


@router.get(
    "/jobs/{job_id}/status",
    status_code=202,
    response_model=LocationStatus,
    responses={
        202: {"headers": _RUNNING, "description": "Running: poll again"},
        303: {
            "model": LocationStatus,
            "headers": {"Location": header("the result")},
            "description": "Completed: See Other, the result",
        },
        **problem_responses(404, 409, 410),
    },
    summary="The job's status monitor (202 running, 303 done, 409 failed, 410 cancelled)",
)
async def status(call: SignedCallDep, job_id: str) -> Response:
    """``202`` while the job runs; ``303`` to its result when completed; ``409`` (its error)
    when it failed; ``410`` when it was cancelled.

    \f
    Args:
        call: the request, its engine and caller (or a URL signed for the second origin).
        job_id: the job.
    """
    job = operation_job(call, job_id)
    state = call.book.get(job.id)
    state.gate(call.request)
    path = f"/location/jobs/{job.id}/status"
    if state.knobs.moving and call.request.query_params.get("hop", "0") != str(state.hop):
        raise ProblemError(404, "this monitor URL has moved on; follow the newest Location")
    if not job.terminal:
        headers = state.retry_after(hint(call.engine, job))
        done = percent(job)
        if done is not None:
            headers["X-Progress"] = str(done)
        if state.knobs.moving:
            state.hop += 1
            headers["Location"] = link(call, state, path, {"hop": str(state.hop)})
        return reply(state, _status(job), 202, headers)
    if job.status == "completed":
        result = link(call, state, f"/location/jobs/{job.id}/result")
        return reply(state, _status(job), 303, {"Location": result})
    raise ended(job)


@router.delete(
    "/jobs/{job_id}/status",
    response_model=LocationStatus,
    responses=problem_responses(404, 409),
    summary="Cancel the job",
)
async def stop(call: CallDep, job_id: str) -> Response:
    """Cancel a pending or running job (``409`` once it completed or failed).

    \f
    Args:
        call: the request, its engine and caller.
        job_id: the job.
    """
    cancel(call.engine, visible_job(call.engine, call.caller, job_id))
    return JSONResponse({"id": job_id, "status": "cancelled"})


@router.get(
    "/jobs/{job_id}/result",
    response_class=Response,
    responses=RESULT_RESPONSES,
    summary="The job's result (as GET /api/jobs/{id}/result)",
)
async def result(call: SignedCallDep, job_id: str, conditions: ConditionsDep) -> Response:
    """The result, as ``GET /api/jobs/{id}/result`` answers it (Range, ETag, ...).

    \f
    Args:
        call: the request, its engine and caller (or a URL signed for the second origin).
        job_id: the job.
        conditions: the Range, If-Range and If-None-Match headers.
    """
    return send_result(call.request, call.engine, operation_job(call, job_id), conditions)
