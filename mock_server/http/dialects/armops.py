"""The ARM dialect's action and asynchronous operations: what ``Azure-AsyncOperation``
and ``Location`` point at.

- ``POST /azure/resources/{name}/run`` (an ARM action) runs the resource's job
  again: ``202`` with ``Azure-AsyncOperation`` and ``Location``.
- ``GET /azure/asyncoperations/{id}`` (the monitor): ``InProgress``, then
  ``Succeeded``, ``Failed`` (with ``error``) or ``Canceled``; ``?operation=delete``
  is the DELETE of the job's resource, which succeeds once the job stopped.
- ``GET /azure/operationresults/{id}`` (the ``Location``): ``202`` while the
  operation runs, then the job's result (the POST's final state via location),
  ``409`` failed, ``410`` cancelled, ``204`` for a DELETE.

The operation's id is its job's; a DELETE's state (knobs) is kept as ``delete:{id}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ...engine.lifecycle import iso
from ...store.base import JobRecord
from ..problems import problem_responses
from ..routes_results import RESULT_RESPONSES, ConditionsDep, send_result
from ..schemas import SubmitRequest
from .arm import ARM_STATUS, MONITOR, Name, named_job
from .azure import AzureKey, azure_error
from .common import (
    ApiVersion,
    Call,
    CallDep,
    OpId,
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
from .knobs import OperationState
from .models import HINT, HINT_UNLESS_DONE, SECONDS, ArmStatus, header

__all__ = ["router"]

router = APIRouter(prefix="/azure", tags=["dialect: azure resources"])

Operation = Annotated[
    Literal["provision", "delete"],
    Query(description="which operation of the job: its provisioning or run, or a DELETE"),
]


@router.post(
    "/resources/{name}/run",
    status_code=202,
    response_class=Response,
    responses={
        202: {
            "description": "Running: poll the Azure-AsyncOperation; the result is at Location",
            "headers": {
                "Azure-AsyncOperation": MONITOR,
                "Location": MONITOR,
                "Retry-After": HINT_UNLESS_DONE,
            },
        },
        **problem_responses(404, 409),
    },
    summary="Run the resource's job again (an ARM action: 202 + Location)",
)
async def run_resource(
    call: CallDep, name: Name, api_version: ApiVersion, key: AzureKey
) -> Response:
    """A new job with the resource's type and input; its result is at ``Location``.

    \f
    Args:
        call: the request, its engine and caller (its query may hold knobs).
        name: the resource's name.
        api_version: the api-version query parameter.
        key: the Repeatability-Request-ID or Idempotency-Key header.
    """
    current, _ = named_job(call, name)
    spec: dict[str, Any] = {"type": current.type, "input": current.input}
    if current.webhook is not None:
        spec["webhook"] = current.webhook
    begun = await begin(
        call,
        SubmitRequest.model_validate(spec),
        dialect="arm",
        op=f"arm:run:{name}",
        key=key,
        body_of=lambda job: {"jobId": job.id},
    )
    job, state = begun.job, begun.state
    query = {"api-version": api_version}
    headers = {
        "Azure-AsyncOperation": link(call, state, f"/azure/asyncoperations/{job.id}", query),
        "Location": link(call, state, f"/azure/operationresults/{job.id}", query),
    }
    if not job.terminal:
        headers.update(state.retry_after(hint(call.engine, job)))
    return answer(begun, state, None, 202, headers)


def _state(call: Call, job: JobRecord, operation: str) -> OperationState:
    return call.book.get(job.id if operation == "provision" else f"delete:{job.id}")


@router.get(
    "/asyncoperations/{job_id:opid}",
    response_model=ArmStatus,
    responses={
        200: {"headers": {"Retry-After": header("while InProgress", False, SECONDS)}},
        **problem_responses(404),
    },
    summary="An asynchronous operation (the Azure-AsyncOperation monitor)",
)
async def async_operation(
    call: SignedCallDep, job_id: OpId, api_version: ApiVersion, operation: Operation = "provision"
) -> Response:
    """``InProgress``, then ``Succeeded``, ``Failed`` (with ``error``) or ``Canceled``.

    \f
    Args:
        call: the request, its engine and caller (or a URL signed for the second origin).
        job_id: the operation's job.
        api_version: the api-version query parameter.
        operation: the job's provisioning (or run), or a DELETE of its resource.
    """
    job = operation_job(call, job_id)
    state = _state(call, job, operation)
    state.gate(call.request)
    if operation == "delete":
        status = "Succeeded" if job.terminal else "InProgress"
    else:
        status = ARM_STATUS.get(job.status, "InProgress")
    body: dict[str, Any] = {
        "id": f"/azure/asyncoperations/{job.id}",
        "name": job.id,
        "status": status,
        "startTime": iso(job.created_at),
    }
    if job.terminal:
        body["endTime"] = iso(job.completed_at or job.cancelled_at or job.updated_at)
    done = percent(job)
    if done is not None and operation == "provision":
        body["percentComplete"] = done
    if status == "Failed":
        body["error"] = azure_error(job)
    if state.knobs.no_status:
        del body["status"]
    headers = state.retry_after(hint(call.engine, job)) if status == "InProgress" else {}
    return reply(state, body, 200, headers)


@router.get(
    "/operationresults/{job_id:opid}",
    response_class=Response,
    responses={
        **RESULT_RESPONSES,
        202: {
            "description": "Still running: poll again",
            "headers": {"Location": MONITOR, "Retry-After": HINT},
        },
        204: {"description": "A DELETE's operation ended: there is no result"},
    },
    summary="An operation's result (the Location of a POST action or DELETE)",
)
async def operation_result(
    call: SignedCallDep,
    job_id: OpId,
    api_version: ApiVersion,
    conditions: ConditionsDep,
    operation: Operation = "provision",
) -> Response:
    """``202`` while the operation runs; then the result (``409`` failed, ``410``
    cancelled), or ``204`` for a DELETE.

    \f
    Args:
        call: the request, its engine and caller (or a URL signed for the second origin).
        job_id: the operation's job.
        api_version: the api-version query parameter.
        conditions: the Range, If-Range and If-None-Match headers.
        operation: the job's provisioning (or run), or a DELETE of its resource.
    """
    job = operation_job(call, job_id)
    if not job.terminal:
        state = _state(call, job, operation)
        query = {"api-version": api_version, "operation": operation}
        here = link(call, state, f"/azure/operationresults/{job.id}", query)
        headers = {"Location": here, **state.retry_after(hint(call.engine, job))}
        return Response(status_code=202, headers=headers)
    if operation == "delete":
        return Response(status_code=204)
    if job.status != "completed":
        raise ended(job)
    return send_result(call.request, call.engine, job, conditions)
