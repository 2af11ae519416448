"""Tickets: ``POST /api/jobs/{id}/events-ticket``, ``/api/events-ticket``, ``/api/ws-ticket``.

An authenticated client gets ``201 {"url", "expiresAt"}``: the events URL with a
``?ticket=`` that opens that one stream for 60 s without a token (``tickets.py`` says
how it is made and checked; ``AuthMiddleware`` checks it). The per-job route answers
``404`` for a job the caller may not see, exactly like an unknown one. The multiplexed
route takes the query of ``GET /api/events`` (``job=``, ``type=``, ``status=``) and
checks it the same way (``404`` for any named job the caller may not see), so the
ticket opens the same stream the caller would have opened. ``POST /api/ws-ticket``
(no parameters: a WebSocket subscribes with messages) gives the ``/api/ws`` upgrade's
URL; a connection opened with it is read-only (its ``cancel`` op is refused).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from ..engine.lifecycle import iso
from .deps import EngineDep, UserDep
from .feed import MAX_JOBS
from .jobaccess import base_url, visible_job
from .problems import ProblemError, problem_responses
from .schemas import StatusName, TicketBody
from .tickets import TICKET_PARAM

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["jobs"])

_READ = 500
_HEADERS = {"Cache-Control": "no-store"}  # the URL is a credential for 60 s
_ANSWER: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "The events URL with a ticket that opens it for 60 s",
        "model": TicketBody,
        "headers": {"Cache-Control": {"required": True, "schema": {"const": "no-store"}}},
    }
}


def _answer(request: Request, path: str, query: list[tuple[str, str]], user: str) -> Response:
    tickets = request.app.state.server.tickets
    token, expires = tickets.issue(user, path, query)
    url = f"{base_url(request)}{quote(path)}?{urlencode([*query, (TICKET_PARAM, token)])}"
    if path == "/api/ws":
        url = "ws" + url[4:] if url.startswith("http") else url
    return JSONResponse({"url": url, "expiresAt": iso(expires)}, status_code=201, headers=_HEADERS)


@router.post(
    "/jobs/{job_id}/events-ticket",
    status_code=201,
    response_model=TicketBody,
    responses={**_ANSWER, **problem_responses(404)},
    summary="A ticket URL that opens this job's event stream for 60 s (for a browser)",
)
async def job_events_ticket(
    request: Request, engine: EngineDep, user: UserDep, job_id: str
) -> Response:
    """The job's events URL with a ``ticket`` that stands in for the token for 60 s.

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        user: the authenticated user.
        job_id: the job.
    """
    job = visible_job(engine, user, job_id)
    return _answer(request, f"/api/jobs/{job.id}/events", [], user.name)


@router.post(
    "/events-ticket",
    status_code=201,
    response_model=TicketBody,
    responses={**_ANSWER, **problem_responses(400, 404)},
    summary="A ticket URL that opens this multiplexed stream for 60 s (for a browser)",
)
async def events_ticket(
    request: Request,
    engine: EngineDep,
    user: UserDep,
    job: Annotated[
        list[str] | None,
        Query(max_length=MAX_JOBS, description="a job to follow (repeatable); none: all jobs"),
    ] = None,
    status: Annotated[list[StatusName] | None, Query(description="repeatable")] = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The ``GET /api/events`` URL with this query and a ``ticket`` good for 60 s.

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        user: the authenticated user.
        job: the jobs to follow; none: every job of the caller.
        status: only events whose status is one of these.
        type: only jobs of this type.
    """
    names = list(dict.fromkeys(job or []))
    for i in range(0, len(names), _READ):
        chunk = names[i : i + _READ]
        for name, found in zip(chunk, engine.store.get_jobs(chunk), strict=True):
            if found is None or (not user.admin and found.owner != user.name):
                raise ProblemError(404, f"no job with id {name!r}")
    query = [
        (k, v) for k, v in request.query_params.multi_items() if k in ("job", "status", "type")
    ]
    return _answer(request, "/api/events", query, user.name)


@router.post(
    "/ws-ticket",
    status_code=201,
    response_model=TicketBody,
    responses=_ANSWER,
    summary="A ticket URL that opens the WebSocket feed (read-only) for 60 s (for a browser)",
)
async def ws_ticket(request: Request, user: UserDep) -> Response:
    """The ``/api/ws`` URL (``ws://`` or ``wss://``) with a ``ticket`` good for 60 s.

    The connection it opens subscribes and resumes like any other; its ``cancel`` op
    is refused (``403``): a ticket reads, it does not act.

    \f
    Args:
        request: the HTTP request.
        user: the authenticated user.
    """
    return _answer(request, "/api/ws", [], user.name)
