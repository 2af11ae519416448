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

from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import JSONResponse, Response

from ...engine.lifecycle import iso
from ...engine.runtime import Engine
from ...store.base import JobRecord
from ..deps import EngineDep, UserDep
from ..jobaccess import KEY_PATTERN, cancel, hold, visible_job
from ..problems import problem_responses
from ..schemas import SubmitRequest
from .common import BookDep, OpId, answer, begin, hint, percent, reply
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
    request: Request,
    engine: EngineDep,
    book: BookDep,
    user: UserDep,
    spec: SubmitRequest,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", pattern=KEY_PATTERN)
    ] = None,
) -> Response:
    """Queue a job (the body of ``POST /api/jobs``); the Operation that follows it.

    \f
    Args:
        request: the HTTP request (its query may hold knobs).
        engine: the engine.
        book: the operations' knobs.
        user: the caller, the job's owner.
        spec: the job.
        idempotency_key: the Idempotency-Key header.
    """
    begun = await begin(
        request,
        engine,
        book,
        user,
        spec,
        dialect="google",
        op="google:run",
        key=idempotency_key,
        body_of=_operation,
    )
    job, state = begun.job, begun.state
    headers = {} if job.terminal else state.retry_after(hint(engine, job))
    return answer(begun, state, begun.body, 200, headers)


async def get_operation(
    request: Request, engine: EngineDep, book: BookDep, user: UserDep, job_id: OpId
) -> Response:
    """The operation: ``done``, ``metadata``, and ``response`` or ``error`` once done.

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        book: the operations' knobs.
        user: the caller.
        job_id: the operation.
    """
    job = visible_job(engine, user, job_id)
    state = book.get(job.id)
    state.gate(request)
    headers = {} if job.terminal else state.retry_after(hint(engine, job))
    return reply(state, _operation(job), 200, headers)


async def wait_operation(
    request: Request,
    engine: EngineDep,
    book: BookDep,
    user: UserDep,
    job_id: OpId,
    wait: Annotated[WaitRequest | None, Body()] = None,
) -> Response:
    """Hold until the operation is done or ``timeout`` passed (capped by ``--max-wait``).

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        book: the operations' knobs.
        user: the caller.
        job_id: the operation.
        wait: ``{"timeout": "30s"}`` (optional).
    """
    job = visible_job(engine, user, job_id)
    state = book.get(job.id)
    state.gate(request)
    job = await hold(engine, job, _seconds(engine, wait), lambda j: j.terminal)
    headers = {} if job.terminal else state.retry_after(hint(engine, job))
    return reply(state, _operation(job), 200, headers)


async def cancel_operation(engine: EngineDep, user: UserDep, job_id: OpId) -> Response:
    """Cancel the operation (``409`` once it succeeded or failed); ``{}``.

    \f
    Args:
        engine: the engine.
        user: the caller.
        job_id: the operation.
    """
    cancel(engine, visible_job(engine, user, job_id))
    return JSONResponse({})


for _router in (router, v1_router):
    where = "/google/v1" if _router is router else "/v1"
    _router.add_api_route(
        "/operations/{job_id:opid}",
        get_operation,
        methods=["GET"],
        response_model=GoogleOperation,
        responses=problem_responses(404),
        summary=f"An operation ({where}/{{name}})",
    )
    _router.add_api_route(
        "/operations/{job_id:opid}:wait",
        wait_operation,
        methods=["POST"],
        response_model=GoogleOperation,
        responses=problem_responses(404),
        summary=f"Wait for an operation ({where}/{{name}}:wait)",
    )
    _router.add_api_route(
        "/operations/{job_id:opid}:cancel",
        cancel_operation,
        methods=["POST"],
        response_model=dict[str, Any],
        responses=problem_responses(404, 409),
        summary=f"Cancel an operation ({where}/{{name}}:cancel)",
    )
