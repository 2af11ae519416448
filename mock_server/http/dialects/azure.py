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

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from ...engine.lifecycle import iso
from ...engine.runtime import Engine
from ...store.base import JobRecord
from ..deps import EngineDep, MaybeUserDep, UserDep
from ..jobaccess import KEY_PATTERN, cancel, visible_job
from ..problems import problem_responses
from ..routes_results import ConditionsDep, send_result
from ..schemas import SubmitRequest
from .common import (
    ApiVersion,
    BookDep,
    OpId,
    answer,
    begin,
    hint,
    link,
    operation_job,
    percent,
    reply,
)
from .knobs import OperationState
from .models import AzureOperation, AzureStarted, header

__all__ = ["KeyHeaders", "azure_error", "azure_key", "router"]

router = APIRouter(prefix="/azure", tags=["dialect: azure"])

_SECONDS = "^[0-9]+$"
_STATUS = {
    "pending": "NotStarted",
    "processing": "Running",
    "completed": "Succeeded",
    "failed": "Failed",
    "cancelled": "Canceled",
}
KeyHeaders = tuple[str | None, str | None]
RepeatabilityId = Annotated[
    str | None,
    Header(alias="Repeatability-Request-ID", pattern=KEY_PATTERN, description="Azure's key"),
]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)]


def azure_key(repeatability: str | None, idempotency: str | None) -> str | None:
    """The request's idempotency key: ``Repeatability-Request-ID`` (Azure's), else
    ``Idempotency-Key`` (when a request has both, Azure's wins).

    Args:
        repeatability: the Repeatability-Request-ID header.
        idempotency: the Idempotency-Key header.
    """
    return repeatability if repeatability is not None else idempotency


def azure_error(job: JobRecord) -> dict[str, str]:
    """A failed job's error, as Azure shapes one (``code``, ``message``).

    Args:
        job: a failed job.
    """
    error = job.error or {}
    return {"code": str(error.get("code", "failed")), "message": str(error.get("message", ""))}


def _operation(
    request: Request, engine: Engine, state: OperationState, job: JobRecord, version: str
) -> dict[str, Any]:
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
        body["resourceLocation"] = link(request, engine, state, path, {"api-version": version})
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
                "Retry-After": header(
                    "while the job runs (a replay of a finished one has none)", False, "^[0-9]+$"
                ),
            },
        },
        **problem_responses(409),
    },
    summary="Start a job (Azure data plane: 202 + Operation-Location)",
)
async def start(
    request: Request,
    engine: EngineDep,
    book: BookDep,
    user: UserDep,
    spec: SubmitRequest,
    api_version: ApiVersion,
    repeatability: RepeatabilityId = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Queue a job (the body of ``POST /api/jobs``); ``202`` with ``Operation-Location``.

    \f
    Args:
        request: the HTTP request (its query may hold knobs).
        engine: the engine.
        book: the operations' knobs.
        user: the caller, the job's owner.
        spec: the job.
        api_version: the api-version query parameter.
        repeatability: the Repeatability-Request-ID header.
        idempotency_key: the Idempotency-Key header.
    """
    begun = await begin(
        request,
        engine,
        book,
        user,
        spec,
        dialect="azure",
        op="azure:start",
        key=azure_key(repeatability, idempotency_key),
        body_of=lambda job: {"id": job.id, "status": "NotStarted"},
    )
    job, state = begun.job, begun.state
    monitor = link(
        request, engine, state, f"/azure/operations/{job.id}", {"api-version": api_version}
    )
    headers = {"Operation-Location": monitor}
    if not job.terminal:
        headers.update(state.retry_after(hint(engine, job)))
    if repeatability:
        headers["Repeatability-Result"] = "accepted"
    return answer(begun, state, begun.body, 202, headers)


@router.get(
    "/operations/{job_id:opid}",
    response_model=AzureOperation,
    responses={
        200: {
            "headers": {"Retry-After": header("while running", required=False, pattern=_SECONDS)}
        },
        **problem_responses(404),
    },
    summary="The operation (status monitor)",
)
async def operation(
    request: Request,
    engine: EngineDep,
    book: BookDep,
    user: MaybeUserDep,
    job_id: OpId,
    api_version: ApiVersion,
) -> Response:
    """The operation's status, progress, error or result location.

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        book: the operations' knobs.
        user: the caller; None for a URL signed for the second origin.
        job_id: the operation.
        api_version: the api-version query parameter.
    """
    job = operation_job(request, engine, user, job_id)
    state = book.get(job.id)
    state.gate(request)
    headers = {} if job.terminal else state.retry_after(hint(engine, job))
    return reply(state, _operation(request, engine, state, job, api_version), 200, headers)


@router.post(
    "/operations/{job_id:opid}:cancel",
    response_model=AzureOperation,
    responses=problem_responses(404, 409),
    summary="Cancel the operation",
)
async def cancel_operation(
    request: Request,
    engine: EngineDep,
    book: BookDep,
    user: UserDep,
    job_id: OpId,
    api_version: ApiVersion,
) -> Response:
    """Cancel a running operation (``409`` once it succeeded or failed); the operation.

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        book: the operations' knobs.
        user: the caller.
        job_id: the operation.
        api_version: the api-version query parameter.
    """
    job = visible_job(engine, user, job_id)
    cancel(engine, job)
    job = engine.store.get_job(job.id) or job
    state = book.get(job.id)
    return reply(state, _operation(request, engine, state, job, api_version), monitor=False)


@router.get(
    "/jobs/{job_id:opid}/result",
    response_class=Response,
    responses={
        200: {"description": "The result file (as GET /api/jobs/{id}/result)"},
        206: {"description": "Partial content (Range)"},
        304: {"description": "Not modified (If-None-Match)"},
        **problem_responses(404, 409, 410, 416),
    },
    summary="The job's result (the operation's resourceLocation)",
)
async def result(
    request: Request,
    engine: EngineDep,
    user: MaybeUserDep,
    job_id: OpId,
    api_version: ApiVersion,
    conditions: ConditionsDep,
) -> Response:
    """The result, as ``GET /api/jobs/{id}/result`` answers it (Range, ETag, ...).

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        user: the caller; None for a URL signed for the second origin.
        job_id: the job.
        api_version: the api-version query parameter.
        conditions: the Range, If-Range and If-None-Match headers.
    """
    return send_result(request, engine, operation_job(request, engine, user, job_id), conditions)
