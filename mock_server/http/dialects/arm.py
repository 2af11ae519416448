"""The Azure Resource Manager dialect: resources, ``Azure-AsyncOperation`` and ``Location``.

A resource is a job under a name the caller chose (the store's ``JobNames``):

- ``PUT /azure/resources/{name}`` (``{"properties": <a submit body>}``) provisions
  it: ``201`` (``200`` when it replaces a finished one) with
  ``Azure-AsyncOperation``; the same PUT again is the same resource (a PUT is
  idempotent); another one while it provisions is ``409``. Its final result is
  the resource itself (``GET`` the original URI): ``provisioningState`` and,
  once succeeded, the job's ``output``.
- ``PATCH`` provisions it again with the changed properties and answers ``200``
  with ``provisioningState: Updating`` and *no* monitor header: the client polls
  the resource (docs/operations.md's "azure (resource)").
- ``POST .../run`` (an action, in ``armops``) runs the resource's job again.
- ``DELETE`` cancels a provisioning that still runs and frees the name: ``202``
  with both headers (the operation ``?operation=delete``; no final result), ``204``
  for a name that is free.

Failed and cancelled jobs are a ``200`` whose body says ``Failed``/``Canceled``.
The asynchronous operations' monitors are in ``armops``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from ...store.base import JobRecord, NewJob
from ..jobaccess import cancel, hold
from ..problems import ProblemError, problem_responses
from ..schemas import SubmitRequest
from .azure import AzureKey, azure_error
from .common import ApiVersion, Call, CallDep, answer, begin, hint, knobs_for, link, percent, reply
from .knobs import OperationState
from .models import HINT, SECONDS, Resource, ResourcePatch, ResourceRequest, header

__all__ = ["ARM_STATUS", "MONITOR", "Name", "named_job", "router"]

router = APIRouter(prefix="/azure", tags=["dialect: azure resources"])

Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,89}$")]
MONITOR = header("the asynchronous operation (status monitor)")
ARM_STATUS = {"completed": "Succeeded", "failed": "Failed", "cancelled": "Canceled"}
_WHILE = {"Retry-After": header("while provisioning", False, SECONDS)}


def _resource(call: Call, name: str, job: JobRecord, note: str, version: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "provisioningState": ARM_STATUS.get(job.status, note),
        "type": job.type,
        "input": job.input,
        "jobId": job.id,
    }
    done = percent(job)
    if done is not None:
        props["percentComplete"] = done
    body: dict[str, Any] = {
        "id": f"/azure/resources/{name}",
        "name": name,
        "type": "jobctl/resources",
        "properties": props,
    }
    if job.status == "completed":
        if job.output is not None:
            props["output"] = job.output
        path = f"/azure/jobs/{job.id}/result"
        props["resultUrl"] = link(call, call.book.get(job.id), path, {"api-version": version})
    elif job.status == "failed":
        body["error"] = azure_error(job)
    return body


def named_job(call: Call, name: str) -> tuple[JobRecord, str]:
    """The resource's job and its provisioning word (404 for a free name or a purged job).

    Args:
        call: the request and its caller (names are per user).
        name: the resource's name.
    """
    store = call.engine.store
    named = store.get_name(call.caller.name, name)
    job = store.get_job(named.job_id) if named else None
    if named is None or job is None:
        raise ProblemError(404, f"no resource named {name!r}")
    return job, named.note


def _pointer(call: Call, name: str, *, replace: bool) -> Callable[[NewJob], JobRecord]:
    """``make_job`` of a PUT (``replace``) or PATCH: point the name at the new job, or say
    why not (404: no resource to PATCH; 409: it still provisions, or changed meanwhile).
    The checks run under the request's key, after a replay was ruled out."""
    engine, owner = call.engine, call.caller.name
    store = engine.store

    def make_job(new: NewJob) -> JobRecord:
        named = store.get_name(owner, name)
        current = store.get_job(named.job_id) if named else None
        if current is None and not replace:
            raise ProblemError(404, f"no resource named {name!r}")
        same = current is not None and (current.type, current.input) == (new.type, new.input)
        if same and replace:
            assert current is not None
            return current  # the same PUT again: the same resource
        if current is not None and not current.terminal:
            raise ProblemError(409, f"the resource {name!r} is still being provisioned")
        job = engine.lifecycle.create(new)
        note = "Creating" if current is None else "Updating"
        was = named.job_id if named else None
        if not store.point_name(owner, name, job.id, note, engine.lifecycle.clock(), was=was):
            engine.lifecycle.cancel(job.id)
            raise ProblemError(409, f"the resource {name!r} changed meanwhile; try again")
        return job

    return make_job


async def _settled(call: Call, state: OperationState, job: JobRecord) -> JobRecord:
    """The job once ended (``sync`` knob; up to ``--max-wait``), else as it is."""
    if not state.knobs.sync:
        return job
    return await hold(call.engine, job, call.engine.config.max_wait, lambda j: j.terminal)


@router.put(
    "/resources/{name}",
    status_code=201,
    response_model=Resource,
    responses={
        201: {
            "description": "Created: provisioning (poll the Azure-AsyncOperation)",
            "headers": {"Azure-AsyncOperation": MONITOR, "Retry-After": HINT},
        },
        200: {"model": Resource, "description": "The resource (replaced, or the same PUT)"},
        **problem_responses(409),
    },
    summary="Create or replace a resource (ARM PUT: 201 + Azure-AsyncOperation)",
)
async def put_resource(
    call: CallDep, name: Name, body: ResourceRequest, api_version: ApiVersion
) -> Response:
    """Provision the resource with the job its properties describe.

    \f
    Args:
        call: the request, its engine and caller (its query may hold knobs).
        name: the resource's name.
        body: the resource (``properties`` is a submit body).
        api_version: the api-version query parameter.
    """
    store = call.engine.store
    before = store.get_name(call.caller.name, name)
    begun = await begin(
        call,
        body.properties,
        dialect="arm",
        op="arm:put",
        key=None,
        keyed=False,
        body_of=lambda job: {},
        loc=("body", "properties"),
        make_job=_pointer(call, name, replace=True),
    )
    state = begun.state
    job = await _settled(call, state, begun.job)
    named = store.get_name(call.caller.name, name)
    created = before is None or store.get_job(before.job_id) is None
    headers: dict[str, str] = {}
    if not job.terminal:
        path = f"/azure/asyncoperations/{job.id}"
        headers["Azure-AsyncOperation"] = link(call, state, path, {"api-version": api_version})
        headers.update(state.retry_after(hint(call.engine, job)))
    status = 201 if created and not job.terminal else 200  # 201: still being created
    resource = _resource(call, name, job, named.note if named else "Creating", api_version)
    return answer(None, state, resource, status, headers)


@router.get(
    "/resources/{name}",
    response_model=Resource,
    responses={200: {"headers": _WHILE}, **problem_responses(404)},
    summary="A resource, with its provisioningState",
)
async def get_resource(call: CallDep, name: Name, api_version: ApiVersion) -> Response:
    """The resource: ``provisioningState`` and, once succeeded, the job's output.

    \f
    Args:
        call: the request, its engine and caller.
        name: the resource's name.
        api_version: the api-version query parameter.
    """
    job, note = named_job(call, name)
    state = call.book.get(job.id)
    state.gate(call.request)
    headers = {} if job.terminal else state.retry_after(hint(call.engine, job))
    return reply(state, _resource(call, name, job, note, api_version), 200, headers)


@router.patch(
    "/resources/{name}",
    response_model=Resource,
    responses={
        200: {
            "description": "Updating: poll the resource itself (no monitor header)",
            "headers": _WHILE,
        },
        **problem_responses(404, 409),
    },
    summary="Change a resource (provisions it again; poll the resource)",
)
async def patch_resource(
    call: CallDep, name: Name, body: ResourcePatch, api_version: ApiVersion, key: AzureKey
) -> Response:
    """Provision the resource again with the changed ``type``/``input``: ``200 Updating``.

    \f
    Args:
        call: the request, its engine and caller (its query may hold knobs).
        name: the resource's name.
        body: what changes.
        api_version: the api-version query parameter.
        key: the Repeatability-Request-ID or Idempotency-Key header.
    """
    current, _ = named_job(call, name)
    change = body.properties
    spec = SubmitRequest.model_validate(
        {
            "type": change.type if change.type is not None else current.type,
            "input": change.input if change.input is not None else current.input,
        }
    )
    begun = await begin(
        call,
        spec,
        dialect="arm",
        op=f"arm:patch:{name}",
        key=key,
        body_of=lambda job: {"jobId": job.id},
        loc=("body", "properties"),
        make_job=_pointer(call, name, replace=False),
    )
    job = await _settled(call, begun.state, begun.job)
    headers = {} if job.terminal else begun.state.retry_after(hint(call.engine, job))
    resource = _resource(call, name, job, "Updating", api_version)
    return answer(begun, begun.state, resource, 200, headers)


@router.delete(
    "/resources/{name}",
    status_code=202,
    responses={
        202: {
            "description": "Deleting: poll the Azure-AsyncOperation (no final result)",
            "headers": {"Azure-AsyncOperation": MONITOR, "Location": MONITOR, "Retry-After": HINT},
        },
        204: {"description": "No such resource: nothing to delete"},
    },
    summary="Delete a resource (cancels its provisioning; ARM DELETE: 202)",
)
async def delete_resource(call: CallDep, name: Name, api_version: ApiVersion) -> Response:
    """Cancel the resource's job if it still runs and free the name.

    \f
    Args:
        call: the request, its engine and caller (its query may hold knobs).
        name: the resource's name.
        api_version: the api-version query parameter.
    """
    knobs = knobs_for(call, "arm")
    store, owner = call.engine.store, call.caller.name
    named = store.get_name(owner, name)
    job = store.get_job(named.job_id) if named else None
    if named is None or job is None:
        if named is not None:
            store.drop_name(owner, name, named.job_id)
        return Response(status_code=204)
    if not job.terminal:
        with contextlib.suppress(ProblemError):  # it ended meanwhile: nothing left to stop
            cancel(call.engine, job)
    store.drop_name(owner, name, job.id)
    state = call.book.open(f"delete:{job.id}", knobs)
    query = {"api-version": api_version, "operation": "delete"}
    headers = {
        "Azure-AsyncOperation": link(call, state, f"/azure/asyncoperations/{job.id}", query),
        "Location": link(call, state, f"/azure/operationresults/{job.id}", query),
        **state.retry_after(1),
    }
    return answer(None, state, None, 202, headers)
