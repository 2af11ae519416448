"""The Google dialect (AIP-151 long-running operations).

``POST /google/v1/jobs:run`` answers ``200`` with a ``google.longrunning.Operation``
named ``operations/{id}``: ``done: false`` and ``metadata`` (``state``,
``progressPercent``); once done, ``response`` (the job's output, with an
``@type``) or ``error`` (a ``google.rpc.Status``: code ``1`` CANCELLED for a
cancelled job, ``2`` UNKNOWN for a failed one, ``10`` ABORTED when its error is
retryable). ``POST {name}:wait`` holds until the operation is done or its
``timeout`` (capped by ``--max-wait``) passed, waking on the engine's change
notifications; ``POST {name}:cancel`` cancels and answers ``{}``.

AIP-151 (and docs/operations.md) find an operation at ``{origin}/{version}/{name}``,
the version being the request path's (``v1``): that is ``/v1/operations/{id}``,
outside ``/google``. The operations are served there and under ``/google/v1``
alike (one set of functions on two routers).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse, Response

from ...engine.lifecycle import iso
from ...engine.runtime import Engine
from ...store.base import JobRecord
from ..jobaccess import KEY_PATTERN, cancel, hold, visible_job
from ..problems import problem_responses
from ..schemas import SubmitRequest
from .common import Call, CallDep, OpId, answer, begin, hint, percent, reply
from .models import GoogleOperation, WaitRequest

__all__ = ["router", "v1_router"]

router = APIRouter(prefix="/google/v1", tags=["dialect: google"])
v1_router = APIRouter(prefix="/v1", tags=["dialect: google"])

METADATA = "type.googleapis.com/jobctl.v1.JobMetadata"
RESULT = "type.googleapis.com/jobctl.v1.JobResult"
_STATE = {
    "pending": "PENDING",
    "processing": "RUNNING",
    "completed": "SUCCEEDED",
    "failed": "FAILED",
    "cancelled": "CANCELLED",
}
CANCELLED, UNKNOWN, ABORTED = 1, 2, 10
"""The google.rpc.Code values a done operation's ``error`` carries."""


def _operation(job: JobRecord) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "@type": METADATA,
        "state": _STATE[job.status],
        "jobType": job.type,
        "createTime": iso(job.created_at),
        "updateTime": iso(job.updated_at),
    }
    done = percent(job)
    if done is not None:
        metadata["progressPercent"] = done
    if job.terminal:
        metadata["endTime"] = iso(job.completed_at or job.cancelled_at or job.updated_at)
    body: dict[str, Any] = {"name": f"operations/{job.id}", "done": job.terminal}
    body["metadata"] = metadata
    if job.status == "completed":
        output = job.output if isinstance(job.output, dict) else {}
        body["response"] = {**output, "@type": RESULT}
    elif job.status == "failed":
        error = job.error or {}
        retryable = bool(error.get("retryable"))
        info = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": str(error.get("code", "failed")),
            "domain": "jobctl",
            "metadata": {"retryable": str(retryable).lower()},
        }
        body["error"] = {
            "code": ABORTED if retryable else UNKNOWN,
            "message": str(error.get("message", "")),
            "details": [info],
        }
    elif job.status == "cancelled":
        body["error"] = {"code": CANCELLED, "message": "the operation was cancelled"}
    return body


def _seconds(engine: Engine, wait: WaitRequest | None) -> float:
    """How long a ``:wait`` holds: its ``timeout`` (a Duration: ``30s``), capped."""
    cap = engine.config.max_wait
    if wait is None or wait.timeout is None:
        return cap
    match = re.fullmatch(r"([0-9.]+)s", wait.timeout)
    return min(cap, float(match.group(1))) if match else cap


@router.post(
    "/jobs:run",
    response_model=GoogleOperation,
    responses=problem_responses(409),
    summary="Start a job (AIP-151: answers a google.longrunning.Operation)",
)
async def run(
    call: CallDep,
    spec: SubmitRequest,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)
    ] = None,
) -> Response:
    """Queue a job (the body of ``POST /api/jobs``); the Operation that follows it.

    \f
    Args:
        call: the request, its engine and caller (its query may hold knobs).
        spec: the job.
        idempotency_key: the Idempotency-Key header.
    """
    begun = await begin(
        call, spec, dialect="google", op="google:run", key=idempotency_key, body_of=_operation
    )
    job, state = begun.job, begun.state
    headers = {} if job.terminal else state.retry_after(hint(call.engine, job))
    return answer(begun, state, begun.body, 200, headers)


def _answer(call: Call, job: JobRecord) -> Response:
    """The Operation as a monitor answers it (knobs applied)."""
    state = call.book.get(job.id)
    headers = {} if job.terminal else state.retry_after(hint(call.engine, job))
    return reply(state, _operation(job), 200, headers)


def _polled(call: Call, job_id: str) -> JobRecord:
    """The caller's operation, its poll counted (``fail-polls``, ``cookie``)."""
    job = visible_job(call.engine, call.caller, job_id)
    call.book.get(job.id).gate(call.request)
    return job


async def get_operation(call: CallDep, job_id: OpId) -> Response:
    """The operation: ``done``, ``metadata``, and ``response`` or ``error`` once done.

    \f
    Args:
        call: the request, its engine and caller.
        job_id: the operation.
    """
    return _answer(call, _polled(call, job_id))


async def wait_operation(
    call: CallDep, job_id: OpId, wait: Annotated[WaitRequest | None, Body()] = None
) -> Response:
    """Hold until the operation is done or ``timeout`` passed (capped by ``--max-wait``).

    \f
    Args:
        call: the request, its engine and caller.
        job_id: the operation.
        wait: ``{"timeout": "30s"}`` (optional).
    """
    job = _polled(call, job_id)
    job = await hold(call.engine, job, _seconds(call.engine, wait), lambda j: j.terminal)
    return _answer(call, job)


async def cancel_operation(call: CallDep, job_id: OpId) -> Response:
    """Cancel the operation (``409`` once it succeeded or failed); ``{}``.

    \f
    Args:
        call: the request, its engine and caller.
        job_id: the operation.
    """
    cancel(call.engine, visible_job(call.engine, call.caller, job_id))
    return JSONResponse({})


_OPERATION_ROUTES: tuple[tuple[str, Any, str, Any, tuple[int, ...], str], ...] = (
    ("", get_operation, "GET", GoogleOperation, (404,), "An operation"),
    (":wait", wait_operation, "POST", GoogleOperation, (404,), "Wait for an operation"),
    (":cancel", cancel_operation, "POST", dict[str, Any], (404, 409), "Cancel an operation"),
)
"""The operation routes: (suffix, endpoint, method, answer, errors, summary)."""

for _router, _where in ((router, "/google/v1"), (v1_router, "/v1")):
    for _suffix, _endpoint, _method, _model, _errors, _what in _OPERATION_ROUTES:
        _router.add_api_route(
            f"/operations/{{job_id:opid}}{_suffix}",
            _endpoint,
            methods=[_method],
            response_model=_model,
            responses=problem_responses(*_errors),
            summary=f"{_what} ({_where}/{{name}}{_suffix})",
        )
