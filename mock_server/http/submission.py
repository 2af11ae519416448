"""Making jobs, the one path every submit takes: ``POST /api/jobs`` and each dialect's.

A submit is checked once, here (``prepare``): the job type must exist, the input
must pass the type's model (``400`` whose ``details`` point into the body where
the dialect carries the spec: ``["body", "input", ...]`` for ``/api`` and most
dialects, ``["body", "properties", "input", ...]`` for an Azure resource), the
webhook must be allowed. Then ``create`` makes the job under the request's
idempotency key (``jobaccess.with_key``: reserved first, ``409`` in flight,
``422`` for another payload, a replay of the stored answer), wakes a worker, and
lets the caller shape the answer body (a jobctl submit body, an Azure operation,
a Google ``Operation``, ...).

The fingerprint of a request is the canonical JSON of ``{"op", "type", "input",
"webhook"}`` (docs/server.md): ``op`` is ``submit`` for ``/api`` and names the
dialect's route otherwise, so a key used on one route and reused on another with
the same body is ``422``, never a replay of an answer in another dialect's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from ..engine.inputs import input_problem
from ..engine.jobtypes import JOB_TYPES
from ..engine.runtime import Engine
from ..engine.webhooks import check_target
from ..store.base import JobRecord, NewJob
from .deps import User
from .jobaccess import check_key, fingerprint, slow_delay, with_key
from .problems import ProblemError
from .schemas import DEFAULT_EVENTS, SubmitRequest

__all__ = ["Submission", "create", "prepare"]

Loc = Sequence[str | int]


@dataclass(frozen=True)
class Submission:
    """A checked submit: the job to make and the request's idempotency fingerprint.

    Args:
        new: the job to create.
        fingerprint: what a reused idempotency key is compared with.
    """

    new: NewJob
    fingerprint: str


def _details(exc: ValidationError, prefix: Loc) -> list[dict[str, Any]]:
    return [{"loc": [*prefix, *err["loc"]], "msg": err["msg"]} for err in exc.errors()]


def _webhook(engine: Engine, spec: SubmitRequest, loc: Loc) -> dict[str, Any] | None:
    """The normalised webhook subscription of a submit (``url``, ``secret``?, sorted events)."""
    webhook: dict[str, Any] | None = None
    if spec.webhook is not None and spec.callbackUrl is not None:
        raise ProblemError(
            400,
            "give either webhook or callbackUrl, not both",
            details=[{"loc": [*loc, "callbackUrl"], "msg": "conflicts with webhook"}],
        )
    if spec.webhook is not None:
        webhook = spec.webhook.model_dump(exclude_none=True)
        webhook["events"] = sorted(set(webhook["events"]))
    elif spec.callbackUrl is not None:
        webhook = {"url": spec.callbackUrl, "events": sorted(DEFAULT_EVENTS)}
    if webhook is not None:
        reason = check_target(webhook["url"], engine.config.webhook_allow)
        if reason is not None:
            where = [*loc, "webhook", "url"] if spec.webhook else [*loc, "callbackUrl"]
            raise ProblemError(
                400, f"webhook URL {reason}", details=[{"loc": where, "msg": reason}]
            )
    return webhook


def prepare(
    engine: Engine,
    user: User,
    spec: SubmitRequest,
    *,
    base: str,
    op: str = "submit",
    correlation_id: str | None = None,
    loc: Loc = ("body",),
) -> Submission:
    """Check a submit body and say which job it makes (400 when it makes none).

    Args:
        engine: the engine (webhook hosts, estimates).
        user: the caller, the job's owner.
        spec: the submit body (or the dialect's spec in the same shape).
        base: the API origin of the request (for URLs in webhooks and events).
        op: the route, in the fingerprint (``submit`` for ``/api``).
        correlation_id: the request's ``X-Correlation-Id``.
        loc: where the spec sits in the request body (the start of ``details[].loc``).
    """
    job_type = JOB_TYPES.get(spec.type)
    if job_type is None:
        raise ProblemError(
            400,
            f"unknown job type {spec.type!r}; known: {', '.join(JOB_TYPES)}",
            details=[{"loc": [*loc, "type"], "msg": "unknown job type"}],
        )
    try:
        model = job_type.model.model_validate(spec.input)
    except ValidationError as exc:
        raise ProblemError(
            400,
            input_problem(spec.type, exc.errors()),
            details=_details(exc, [*loc, "input"]),
        ) from None
    webhook = _webhook(engine, spec, loc)
    fp = fingerprint({"op": op, "type": spec.type, "input": spec.input, "webhook": webhook})
    stored_input = (
        spec.input if spec.type == "echo" else model.model_dump(mode="json", by_alias=True)
    )
    new = NewJob(
        owner=user.name,
        type=spec.type,
        input=stored_input,
        webhook=webhook,
        priority=spec.priority,
        base_url=base,
        correlation_id=correlation_id,
        estimated_seconds=job_type.estimate(model),
    )
    return Submission(new, fp)


async def create(
    request: Request,
    engine: Engine,
    user: User,
    submission: Submission,
    key: str | None,
    answer: Callable[[JobRecord], dict[str, Any]],
    *,
    keyed: bool = True,
    make_job: Callable[[NewJob], JobRecord] | None = None,
) -> tuple[JobRecord, dict[str, Any], bool]:
    """Make the job under the idempotency key; returns ``(job, body, replayed)``.

    Args:
        request: the HTTP request (the ``slow`` fault marks it).
        engine: the engine.
        user: the caller (keys are per user).
        submission: from ``prepare``.
        key: the request's idempotency key (None: no deduplication, unless the server
            requires keys: then 400).
        answer: the answer body of the new job (stored with the key, replayed verbatim).
        keyed: whether the route takes keys (False: a PUT, idempotent by itself, never
            needs one, even with ``--require-idempotency-key``).
        make_job: makes the job instead of ``lifecycle.create`` (checks and records that
            must happen under the key, after a replay was ruled out); may raise.
    """
    if keyed:
        check_key(engine.config, key)

    def make() -> tuple[JobRecord, dict[str, Any]]:
        job = (make_job or engine.lifecycle.create)(submission.new)
        engine.pool.wake()
        return job, answer(job)

    return await with_key(engine, user.name, key, submission.fingerprint, make, slow_delay(request))
