"""RFC 9457 problem details: the body of every 4xx/5xx answer, and the handlers that make them.

Routes raise ``ProblemError``; ``install_problem_handlers`` turns it, Starlette's
404/405, request validation errors (``400``, never FastAPI's ``422``), store
outages (``503``) and crashes (``500``) into problem+json answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match

__all__ = [
    "MEDIA_TYPE",
    "Problem",
    "ProblemDetail",
    "ProblemError",
    "install_problem_handlers",
    "problem_response",
    "problem_responses",
]

log = logging.getLogger("mock_server")

PROBLEM_TYPE = "about:blank"
MEDIA_TYPE = "application/problem+json"


class ProblemDetail(BaseModel):
    """One validation problem.

    Args:
        loc: where (e.g. ``["body", "input", "seconds"]``).
        msg: what is wrong.
    """

    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """The problem+json body (documented in OpenAPI for every error status).

    Args:
        type: a URI for the problem type (``about:blank``: see ``title``).
        title: the HTTP reason phrase.
        status: the HTTP status code.
        detail: a human sentence about this occurrence.
        error: the same sentence, for simple clients.
        details: validation problems, when there are any.
    """

    model_config = ConfigDict(extra="allow")

    type: str = PROBLEM_TYPE
    title: str
    status: int
    detail: str
    error: str
    details: list[ProblemDetail] | None = None


class ProblemError(HTTPException):
    """An error answer raised from a route.

    Args:
        status: HTTP status code.
        detail: the human sentence.
        details: validation problems.
        headers: extra response headers.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        details: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail, headers)
        self.details = list(details) if details is not None else None


def problem_body(
    status: int, detail: str, details: Sequence[dict[str, Any]] | None = None
) -> bytes:
    """The JSON bytes of a problem.

    Args:
        status: HTTP status code.
        detail: the human sentence.
        details: validation problems.
    """
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": title,
        "status": status,
        "detail": detail,
        "error": detail,
    }
    if details is not None:
        body["details"] = list(details)
    return json.dumps(body, separators=(",", ":")).encode()


def problem_response(
    status: int,
    detail: str,
    *,
    details: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A problem+json response.

    Args:
        status: HTTP status code.
        detail: the human sentence.
        details: validation problems.
        headers: extra headers (e.g. ``WWW-Authenticate``, ``Retry-After``).
    """
    return Response(
        problem_body(status, detail, details),
        status_code=status,
        headers=headers,
        media_type=MEDIA_TYPE,
    )


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries saying these statuses answer problem+json.

    Args:
        codes: the error statuses.
    """
    entry: dict[str, Any] = {"model": Problem, "content": {MEDIA_TYPE: {}}}
    return dict.fromkeys(codes, entry)


def _loc(loc: Any) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in loc]


def install_problem_handlers(
    app: FastAPI, routes: list[BaseRoute], unavailable: tuple[type[Exception], ...] = ()
) -> None:
    """Answer every error with problem+json.

    Args:
        app: the app.
        routes: its routes (a 405 lists the methods of every route matching the path).
        unavailable: exceptions meaning the store cannot be reached (``503``, ``Retry-After``).
    """

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        details = exc.details if isinstance(exc, ProblemError) else None
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and not isinstance(exc, ProblemError):  # the router's own
            detail = f"method {request.method} is not allowed on {request.url.path}"
            allowed: set[str] = set()
            for route in routes:
                if route.matches(request.scope)[0] != Match.NONE:
                    allowed |= set(getattr(route, "methods", None) or ())
            if allowed:
                headers["Allow"] = ", ".join(sorted(allowed))
        return problem_response(exc.status_code, detail, details=details, headers=headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        # an optional field is `X | None`: pydantic also reports "should be None" for it
        meaningful = [e for e in errors if e.get("type") != "none_required"] or errors
        details = [
            {"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", "invalid"))} for e in meaningful
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return problem_response(
            400, f"the request is not valid: {where}: {first['msg']}", details=details
        )

    async def store_down(request: Request, exc: Exception) -> Response:
        log.error("store error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem_response(
            503, "the job store is unavailable; try again", headers={"Retry-After": "1"}
        )

    async def crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(500, "internal server error")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    for error in unavailable:
        app.add_exception_handler(error, store_down)
    app.add_exception_handler(Exception, crash)
