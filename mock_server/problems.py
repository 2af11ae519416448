"""RFC 9457 problem details: the body of every 4xx/5xx answer of the reference server."""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import Response

__all__ = ["Problem", "ProblemDetail", "ProblemError", "problem_response"]

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
