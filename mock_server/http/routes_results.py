"""Routes that stream: the job's Server-Sent Events and its result file (with Range).

``send_result`` answers a job's result the way every result route does (the
dialects' result routes too): ``409`` unless completed, ``410`` once expired,
one byte range, ``If-Range``, ``If-None-Match`` and ``HEAD``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from ..engine.runtime import Engine
from ..store.base import JobRecord
from .deps import EngineDep, MaybeUserDep, User, UserDep
from .jobaccess import base_url, visible_job
from .problems import ProblemError, problem_responses
from .sse import event_stream, resume_position, sse_response
from .views import job_viewer

__all__ = [
    "RESULT_RESPONSES",
    "Conditions",
    "ConditionsDep",
    "parse_range",
    "router",
    "send_result",
]

router = APIRouter(prefix="/api", tags=["jobs"])

_CHUNK = 1 << 16
_BEARER = {"WWW-Authenticate": 'Bearer realm="jobctl"'}


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"description": "Server-Sent Events (described in openapi.py)"},
        204: {"description": "Last-Event-ID is the complete event or later: stop"},
        **problem_responses(404),
    },
    summary="Follow a job's events (SSE)",
)
async def job_events(
    request: Request,
    engine: EngineDep,
    user: UserDep,
    job_id: str,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=100)] = None,
) -> Response:
    """Stream ``status``, ``progress`` and ``complete`` events, resuming after Last-Event-ID.

    \f
    Args:
        request: the HTTP request (the ``sse-drop`` fault marks it).
        engine: the engine.
        user: the authenticated user.
        job_id: the job.
        last_event_id: the Last-Event-ID header.
    """
    visible_job(engine, user, job_id)
    lei = resume_position(engine.config, last_event_id)
    complete_id = engine.store.complete_event_id(job_id)
    if lei is not None and complete_id is not None and lei >= complete_id:
        return Response(status_code=204)
    drop_after = getattr(request.state, "sse_drop_after", None)
    stream = event_stream(
        store=engine.store,
        hub=engine.hub,
        job_id=job_id,
        last_event_id=lei,
        retry_ms=engine.config.sse_retry_ms,
        keepalive=engine.config.keepalive,
        drop_after=drop_after,
        job_view=job_viewer(engine, base_url(request)),
    )
    return sse_response(stream)


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """Interpret a ``Range`` header against a file of ``size`` bytes.

    Args:
        header: the header value.
        size: the file's size.

    Returns:
        ``(start, end)`` inclusive for one satisfiable range; None to ignore the header
        (malformed or several ranges: the whole file is sent); ``"unsatisfiable"``.
    """
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, min(end, size - 1)


def _read(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


@dataclass(frozen=True)
class Conditions:
    """The headers that make a result request partial or conditional.

    Args:
        range: ``Range`` (one byte range; anything else gets the whole file).
        if_range: ``If-Range`` (an ETag or the Last-Modified date).
        if_none_match: ``If-None-Match`` (304 when the ETag matches).
    """

    range: str | None
    if_range: str | None
    if_none_match: str | None


async def conditions(
    range_header: Annotated[str | None, Header(alias="Range", max_length=200)] = None,
    if_range: Annotated[str | None, Header(alias="If-Range", max_length=200)] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match", max_length=200)] = None,
) -> Conditions:
    """The result request's conditional headers (a dependency of every result route).

    Args:
        range_header: the Range header.
        if_range: the If-Range header.
        if_none_match: the If-None-Match header.
    """
    return Conditions(range_header, if_range, if_none_match)


ConditionsDep = Annotated[Conditions, Depends(conditions)]
RESULT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The result file (media types in openapi.py)"},
    206: {"description": "Partial content (Range)"},
    304: {"description": "Not modified (If-None-Match)"},
    **problem_responses(404, 409, 410, 416),
}
"""The answers of every route that serves a result (``send_result``)."""


def _result_job(
    engine: Engine, user: User | None, job_id: str, expires: str | None, sig: str | None
) -> JobRecord:
    if user is None:  # no token: a signed URL, or nothing that authenticates (401)
        if expires is None or sig is None:
            raise ProblemError(401, "a bearer token or a signed URL is required", headers=_BEARER)
        if not engine.lifecycle.signature_valid(job_id, expires, sig):
            raise ProblemError(
                401,
                "the signature of this result URL is not valid; use a bearer token",
                headers=_BEARER,
            )
        if int(expires) < engine.lifecycle.clock():
            raise ProblemError(410, "this result URL has expired")
        job = engine.store.get_job(job_id)
        if job is None:
            raise ProblemError(404, f"no job with id {job_id!r}")
        return job
    return visible_job(engine, user, job_id)


@router.get(
    "/jobs/{job_id}/result",
    response_class=Response,
    responses=RESULT_RESPONSES,
    summary="Download a job's result",
)
async def job_result(
    request: Request,
    engine: EngineDep,
    user: MaybeUserDep,
    job_id: str,
    conditions: ConditionsDep,
    expires: Annotated[str | None, Query(max_length=20)] = None,
    sig: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    """The result bytes with Content-Type, Content-Length, ETag, Content-Disposition; Range.

    \f
    Args:
        request: the HTTP request.
        engine: the engine.
        user: the authenticated user; None for a signed URL without a token.
        job_id: the job.
        conditions: the Range, If-Range and If-None-Match headers.
        expires: signed-URL expiry (unix seconds).
        sig: signed-URL signature.
    """
    job = _result_job(engine, user, job_id, expires, sig)
    return send_result(request, engine, job, conditions)


def send_result(
    request: Request, engine: Engine, job: JobRecord, conditions: Conditions
) -> Response:
    """A job's result as every result route answers it (409 unless completed, 410, Range).

    Args:
        request: the HTTP request (HEAD gets the headers only).
        engine: the engine.
        job: the job, visible to the caller.
        conditions: the request's Range, If-Range and If-None-Match.
    """
    range_header, if_range = conditions.range, conditions.if_range
    if_none_match = conditions.if_none_match
    if job.status != "completed":
        raise ProblemError(409, f"the job is {job.status}; it has no result")
    now = engine.lifecycle.clock()
    path = Path(job.result_path) if job.result_path else None
    if (job.expires_at is not None and job.expires_at < now) or path is None or not path.exists():
        raise ProblemError(410, "the result has expired")
    size = int(job.result_size or 0)
    etag = f'"{job.result_etag}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Last-Modified": formatdate(job.completed_at or now, usegmt=True),
        "Content-Disposition": f'attachment; filename="{job.result_name}"',
        "Cache-Control": "private, max-age=60",
    }
    if if_none_match is not None and (
        if_none_match.strip() == "*" or etag in [t.strip() for t in if_none_match.split(",")]
    ):
        return Response(status_code=304, headers=headers)
    wanted = parse_range(range_header, size) if range_header else None
    if (
        wanted is not None
        and if_range is not None
        and if_range.strip() not in (etag, headers["Last-Modified"])
    ):
        wanted = None
    if wanted == "unsatisfiable":
        raise ProblemError(
            416,
            f"the range is outside the result's {size} bytes",
            headers={"Content-Range": f"bytes */{size}", **headers},
        )
    media = job.result_type or "application/octet-stream"
    if isinstance(wanted, tuple):
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        status, start_at, length = 206, start, end - start + 1
    else:
        headers["Content-Length"] = str(size)
        status, start_at, length = 200, 0, size
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media)
    return StreamingResponse(
        _read(path, start_at, length), status_code=status, headers=headers, media_type=media
    )


router.add_api_route(
    "/jobs/{job_id}/result",
    job_result,
    methods=["HEAD"],
    response_class=Response,
    responses={
        200: {"description": "The result's headers (size, type, ETag), no body"},
        206: {"description": "Partial content headers (Range)"},
        304: {"description": "Not modified (If-None-Match)"},
        **problem_responses(404, 409, 410, 416),
    },
    operation_id="head_job_result",
    summary="A job's result headers, without the bytes",
)
