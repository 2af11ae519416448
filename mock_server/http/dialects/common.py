"""What the dialect routers share: starting an operation, finding it, linking to it.

A route gets its ``Call`` (the request, the engine, the operations' knobs and the
caller) as one dependency: ``CallDep`` when a token is needed, ``SignedCallDep``
where a URL signed for the second origin may stand in for one. Every dialect's
submit goes through ``begin`` (the knobs of its query, the one
submit path of ``submission``, the operation remembered in the ``KnobBook``)
and answers through ``answer`` (the knobs applied: ``bare``, the poll-state
cookie, ``Idempotent-Replayed``). Monitors find their job with
``operation_job``: the caller's job (another user's is 404, like an unknown
one), or, for a URL signed for the second origin, the job the signature names.
An operation's id is its job's id; a path parameter is an ``OpId`` (no ``:``,
so ``/operations/{id}:cancel`` is its own route).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.convertors import Convertor, register_url_convertor

from ...engine.runtime import Engine
from ...store.base import JobRecord, NewJob
from ..deps import MaybeUserDep, ServerDep, User, UserDep
from ..jobaccess import base_url, visible_job
from ..problems import ProblemError
from ..schemas import SubmitRequest
from ..submission import create, prepare
from ..views import estimate
from .knobs import COOKIE, Dialect, KnobBook, Knobs, OperationState, parse_knobs

__all__ = [
    "ApiVersion",
    "Begun",
    "Call",
    "CallDep",
    "OpId",
    "SignedCallDep",
    "answer",
    "begin",
    "ended",
    "hint",
    "knobs_for",
    "link",
    "operation_job",
    "percent",
    "reply",
]

SIGNED_FOR = 24 * 3600
"""Seconds a monitor or result URL signed for the second origin stays valid."""
_BEARER = {"WWW-Authenticate": 'Bearer realm="jobctl"'}


class _OperationId(Convertor[str]):
    """A path segment without ``:`` (``{id}:cancel`` is another route than ``{id}``)."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("opid", _OperationId())

OpId = Annotated[str, Path(pattern=r"^[^/:]+$", description="the operation's id (its job's)")]
ApiVersion = Annotated[
    str,
    Query(
        alias="api-version",
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$",
        description="required on every Azure route (e.g. 2024-05-01); monitor and result "
        "URLs carry it on",
    ),
]


@dataclass(frozen=True)
class Call:
    """One request to a dialect route, with what answering it takes.

    Args:
        request: the HTTP request.
        engine: the engine.
        book: the operations and their knobs.
        user: the caller; None for a URL signed for the second origin (``SignedCallDep``).
    """

    request: Request
    engine: Engine
    book: KnobBook
    user: User | None

    @property
    def caller(self) -> User:
        """The authenticated caller (``CallDep`` guarantees one)."""
        if self.user is None:
            raise ProblemError(401, "a bearer token is required", headers=_BEARER)
        return self.user


async def _call(request: Request, server: ServerDep, user: UserDep) -> Call:
    return Call(request, server.engine, server.operations, user)


async def _signed_call(request: Request, server: ServerDep, user: MaybeUserDep) -> Call:
    return Call(request, server.engine, server.operations, user)


CallDep = Annotated[Call, Depends(_call)]
"""A call by a user with a token (401 without one)."""
SignedCallDep = Annotated[Call, Depends(_signed_call)]
"""A call with a token, or to a URL signed for the second origin (checked by
``operation_job``)."""


@dataclass(frozen=True)
class Begun:
    """An operation a submit started (or replayed).

    Args:
        job: its job.
        body: the answer body (stored with the idempotency key; a replay's is that one).
        replayed: whether the key replayed an earlier request.
        state: the operation's knobs and what it has answered.
    """

    job: JobRecord
    body: dict[str, Any]
    replayed: bool
    state: OperationState


def knobs_for(call: Call, dialect: Dialect) -> Knobs:
    """The knobs the request's query asks for (400 for a bad one).

    Args:
        call: the request that starts an operation.
        dialect: the route's dialect.
    """
    foreign = call.engine.config.result_base_url is not None
    return parse_knobs(call.request.query_params, dialect, foreign=foreign)


async def begin(
    call: Call,
    spec: SubmitRequest,
    *,
    dialect: Dialect,
    op: str,
    key: str | None,
    body_of: Callable[[JobRecord], dict[str, Any]],
    loc: tuple[str, ...] = ("body",),
    keyed: bool = True,
    make_job: Callable[[NewJob], JobRecord] | None = None,
) -> Begun:
    """Start an operation: its knobs, the job (the one submit path), its remembered state.

    Args:
        call: the submit request (its query holds the knobs).
        spec: the job to make.
        dialect: the route's dialect (which knobs it takes).
        op: the route, in the idempotency fingerprint.
        key: the request's idempotency key.
        body_of: the answer body of the new job.
        loc: where the spec sits in the body (for ``details``).
        keyed: whether the route takes idempotency keys (a PUT is idempotent by itself).
        make_job: makes the job in place of ``lifecycle.create`` (see ``submission.create``).
    """
    knobs = knobs_for(call, dialect)
    engine, user = call.engine, call.caller
    submission = prepare(engine, user, spec, base=base_url(call.request), op=op, loc=loc)
    job, body, replayed = await create(
        call.request, engine, user, submission, key, body_of, keyed=keyed, make_job=make_job
    )
    state = call.book.get(job.id) if replayed else call.book.open(job.id, knobs)
    return Begun(job, body, replayed, state)


def answer(
    begun: Begun | None,
    state: OperationState,
    body: dict[str, Any] | None,
    status: int,
    headers: Mapping[str, str],
) -> Response:
    """The answer that starts an operation, as its knobs shape it.

    ``bare``: ``202`` with no header and no body. Otherwise the body (JSON) and
    headers, the poll-state cookie when one is asked for, and
    ``Idempotent-Replayed: true`` for a replay.

    Args:
        begun: the operation when a submit started it (None: a DELETE, say).
        state: the operation's state.
        body: the JSON body, or None for none.
        status: the status.
        headers: the dialect's headers (monitor, hints).
    """
    if state.knobs.bare:
        return Response(status_code=202)
    sent = dict(headers)
    if begun is not None and begun.replayed:
        sent["Idempotent-Replayed"] = "true"
    response = reply(state, body, status, sent, monitor=False)
    if state.cookie is not None:
        response.set_cookie(COOKIE, state.cookie, path="/", httponly=True, samesite="lax")
    return response


def reply(
    state: OperationState,
    body: dict[str, Any] | None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    monitor: bool = True,
) -> Response:
    """A JSON answer about an operation (a monitor's is cut in half once when ``truncate``).

    Args:
        state: the operation's state.
        body: the JSON body, or None for an empty body.
        status: the status.
        headers: extra headers.
        monitor: whether this is a monitor's answer (only those are truncated).
    """
    if body is None:
        return Response(status_code=status, headers=dict(headers or {}))
    raw = json.dumps(body, separators=(",", ":")).encode()
    if monitor:
        raw = state.cut(raw)
    return Response(raw, status, dict(headers or {}), media_type="application/json")


def operation_job(call: Call, job_id: str) -> JobRecord:
    """The operation's job: the caller's (404 otherwise), or the one a signed URL names.

    Args:
        call: the request (a signed URL's ``expires`` and ``sig`` are in its query).
        job_id: the operation's id.
    """
    engine, request = call.engine, call.request
    if call.user is not None:
        return visible_job(engine, call.user, job_id)
    expires, sig = request.query_params.get("expires"), request.query_params.get("sig")
    lifecycle = engine.lifecycle
    if not expires or not sig or not lifecycle.signature_valid(request.url.path, expires, sig):
        raise ProblemError(
            401, "a bearer token or a genuine signed URL is required", headers=_BEARER
        )
    if int(expires) < lifecycle.clock():
        raise ProblemError(410, "this signed URL has expired")
    job = engine.store.get_job(job_id)
    if job is None:
        raise ProblemError(404, f"no operation with id {job_id!r}")
    return job


def link(
    call: Call, state: OperationState, path: str, query: Mapping[str, str] | None = None
) -> str:
    """A monitor or result URL of the operation, relative, absolute or signed on the
    second origin, as its ``links`` knob says.

    Args:
        call: the request being answered (its origin, for absolute URLs).
        state: the operation's state.
        path: the URL's path.
        query: its query parameters (``api-version``, ...).
    """
    params = dict(query or {})
    engine, links = call.engine, state.knobs.links
    origin = "" if links == "relative" else base_url(call.request)
    if links == "foreign" and engine.config.result_base_url is not None:
        origin = engine.config.result_base_url.rstrip("/")
        expires = int(engine.lifecycle.clock()) + SIGNED_FOR
        params.update(expires=str(expires), sig=engine.lifecycle.signature(path, expires))
    return origin + path + (f"?{urlencode(params)}" if params else "")


def percent(job: JobRecord) -> int | None:
    """How far the job is, in percent (None before its first progress report).

    Args:
        job: the job.
    """
    if job.status == "completed":
        return 100
    if not job.progress_total:
        return 0 if job.status == "pending" else None
    return min(100, (job.progress_current or 0) * 100 // job.progress_total)


def hint(engine: Engine, job: JobRecord) -> int:
    """Seconds until another poll of the job is useful (as ``/api`` hints it).

    Args:
        engine: the engine.
        job: a pending or processing job.
    """
    return estimate(engine, job, engine.lifecycle.clock())[1]


def ended(job: JobRecord) -> ProblemError:
    """The error a monitor or result answers for a job that failed (409) or was cancelled (410).

    Args:
        job: a failed or cancelled job.
    """
    if job.status == "failed":
        error = job.error or {}
        return ProblemError(
            409, f"the job failed: {error.get('code', 'failed')}: {error.get('message', '')}"
        )
    return ProblemError(410, "the job was cancelled; it has no result")
