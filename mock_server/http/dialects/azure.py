"""The Azure data-plane dialect: ``Operation-Location`` status monitors.

``POST /azure/jobs:start`` answers ``202`` with ``Operation-Location`` (the
operation) and ``Retry-After``; the operation says ``NotStarted``, ``Running``,
``Succeeded``, ``Failed`` or ``Canceled``, with ``percentComplete``, ``error``
and, once succeeded, ``resourceLocation`` (the result) and ``result`` (the job's
output). ``POST /azure/operations/{id}:cancel`` cancels. Every Azure route needs
``?api-version=`` (400 without it), and the URLs it hands out carry it on.
``Repeatability-Request-ID`` (Azure's) and ``Idempotency-Key`` both deduplicate
a start, as ``Idempotency-Key`` does on ``/api``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response

from ...engine.lifecycle import iso
from ...store.base import JobRecord
from ..jobaccess import KEY_PATTERN, cancel, visible_job
from ..problems import problem_responses
from ..routes_results import RESULT_RESPONSES, ConditionsDep, send_result
from ..schemas import SubmitRequest
from .common import (
    ApiVersion,
    Call,
    CallDep,
    OpId,
    SignedCallDep,
    answer,
    begin,
    hint,
    link,
    operation_job,
    percent,
    reply,
)
from .models import HINT_UNLESS_DONE, SECONDS, AzureOperation, AzureStarted, header

__all__ = ["AzureKey", "azure_error", "router"]

router = APIRouter(prefix="/azure", tags=["dialect: azure"])

_STATUS = {
    "pending": "NotStarted",
    "processing": "Running",
    "completed": "Succeeded",
    "failed": "Failed",
    "cancelled": "Canceled",
}
RepeatabilityId = Annotated[
    str | None,
    Header(alias="Repeatability-Request-ID", pattern=KEY_PATTERN, description="Azure's key"),
]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)]


async def azure_key(
    repeatability: RepeatabilityId = None, idempotency_key: IdempotencyKey = None
) -> str | None:
    """The request's idempotency key: ``Repeatability-Request-ID`` (Azure's), else
    ``Idempotency-Key`` (when a request has both, Azure's wins).

    Args:
        repeatability: the Repeatability-Request-ID header.
        idempotency_key: the Idempotency-Key header.
    """
    return repeatability if repeatability is not None else idempotency_key


AzureKey = Annotated[str | None, Depends(azure_key)]
"""The idempotency key of an Azure request that makes a job."""


def azure_error(job: JobRecord) -> dict[str, str]:
    """A failed job's error, as Azure shapes one (``code``, ``message``).

    Args:
        job: a failed job.
    """
    error = job.error or {}
    return {"code": str(error.get("code", "failed")), "message": str(error.get("message", ""))}


def _operation(call: Call, job: JobRecord, version: str) -> dict[str, Any]:
    state = call.book.get(job.id)
    body: dict[str, Any] = {
        "id": job.id,
        "status": _STATUS[job.status],
        "createdDateTime": iso(job.created_at),
        "lastUpdatedDateTime": iso(job.updated_at),
    }
    done = percent(job)
    if done is not None:
        body["percentComplete"] = done
    if job.status == "failed":
        body["error"] = azure_error(job)
    elif job.status == "completed":
        path = f"/azure/jobs/{job.id}/result"
        body["resourceLocation"] = link(call, state, path, {"api-version": version})
        if job.output is not None:
            body["result"] = job.output
    if state.knobs.no_status:
        del body["status"]
    return body


@router.post(
    "/jobs:start",
    status_code=202,
    response_model=AzureStarted,
    responses={
        202: {
            "description": "Accepted: poll the Operation-Location",
            "headers": {
                "Operation-Location": header("the operation (status monitor)"),
                "Retry-After": HINT_UNLESS_DONE,
            },
        },
        **problem_responses(409),
    },
    summary="Start a job (Azure data plane: 202 + Operation-Location)",
)
async def start(
    call: CallDep, spec: SubmitRequest, api_version: ApiVersion, key: AzureKey
) -> Response:
    """Queue a job (the body of ``POST /api/jobs``); ``202`` with ``Operation-Location``.

    \f
    Args:
        call: the request, its engine and caller (its query may hold knobs).
        spec: the job.
        api_version: the api-version query parameter.
        key: the Repeatability-Request-ID or Idempotency-Key header.
    """
    begun = await begin(
        call,
        spec,
        dialect="azure",
        op="azure:start",
        key=key,
        body_of=lambda job: {"id": job.id, "status": "NotStarted"},
    )
    job, state = begun.job, begun.state
    monitor = link(call, state, f"/azure/operations/{job.id}", {"api-version": api_version})
    headers = {"Operation-Location": monitor}
    if not job.terminal:
        headers.update(state.retry_after(hint(call.engine, job)))
    if "Repeatability-Request-ID" in call.request.headers:
        headers["Repeatability-Result"] = "accepted"
    return answer(begun, state, begun.body, 202, headers)


@router.get(
    "/operations/{job_id:opid}",
    response_model=AzureOperation,
    responses={
        200: {"headers": {"Retry-After": header("while running", False, SECONDS)}},
        **problem_responses(404),
    },
    summary="The operation (status monitor)",
)
async def operation(call: SignedCallDep, job_id: OpId, api_version: ApiVersion) -> Response:
    """The operation's status, progress, error or result location.

    \f
    Args:
        call: the request, its engine and caller (or a URL signed for the second origin).
        job_id: the operation.
        api_version: the api-version query parameter.
    """
    job = operation_job(call, job_id)
    state = call.book.get(job.id)
    state.gate(call.request)
    headers = {} if job.terminal else state.retry_after(hint(call.engine, job))
    return reply(state, _operation(call, job, api_version), 200, headers)


@router.post(
    "/operations/{job_id:opid}:cancel",
    response_model=AzureOperation,
    responses=problem_responses(404, 409),
    summary="Cancel the operation",
)
async def cancel_operation(call: CallDep, job_id: OpId, api_version: ApiVersion) -> Response:
    """Cancel a running operation (``409`` once it succeeded or failed); the operation.

    \f
    Args:
        call: the request, its engine and caller.
        job_id: the operation.
        api_version: the api-version query parameter.
    """
    job = visible_job(call.engine, call.caller, job_id)
    cancel(call.engine, job)
    job = call.engine.store.get_job(job.id) or job
    state = call.book.get(job.id)
    return reply(state, _operation(call, job, api_version), monitor=False)


@router.get(
    "/jobs/{job_id:opid}/result",
    response_class=Response,
    responses=RESULT_RESPONSES,
    summary="The job's result (the operation's resourceLocation)",
)
async def result(
    call: SignedCallDep, job_id: OpId, api_version: ApiVersion, conditions: ConditionsDep
) -> Response:
    """The result, as ``GET /api/jobs/{id}/result`` answers it (Range, ETag, ...).

    \f
    Args:
        call: the request, its engine and caller (or a URL signed for the second origin).
        job_id: the job.
        api_version: the api-version query parameter.
        conditions: the Range, If-Range and If-None-Match headers.
    """
    return send_result(call.request, call.engine, operation_job(call, job_id), conditions)
