"""Operational routes: health, request stats, fault settings, failed webhook deliveries.

Every route but ``/healthz`` is for admins: they sit on ``admin_router``, whose
dependency ``require_admin`` answers 403 to anyone else. The app includes both
routers side by side (not one inside the other): FastAPI keeps a nested router
as one opaque route, and the 405 answer and the request stats need every route
with its path and methods.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from ..config import ConfigError, parse_faults
from ..engine.lifecycle import iso
from ..store.base import Delivery
from .deps import EngineDep, ServerDep, require_admin
from .problems import ProblemError, problem_responses
from .schemas import DeliveryBody, DeliveryList, FaultsBody, FaultsUpdate, HealthBody, StatsBody

__all__ = ["admin_router", "router"]

router = APIRouter()
admin_router = APIRouter(dependencies=[Depends(require_admin)])
_ADMIN_ERRORS = problem_responses(403)


@router.get("/healthz", response_model=HealthBody, tags=["ops"], summary="Liveness")
async def healthz() -> dict[str, str]:
    """``200 {"status": "ok"}`` without authentication."""
    return {"status": "ok"}


@admin_router.get(
    "/api/_stats",
    response_model=StatsBody,
    responses=_ADMIN_ERRORS,
    tags=["ops"],
    summary="Request counts per route and per job (admin)",
)
async def get_stats(server: ServerDep) -> Response:
    """Counts of requests per route template and per job id since start (or reset).

    \f
    Args:
        server: the server state.
    """
    return JSONResponse(server.stats.snapshot())


@admin_router.delete(
    "/api/_stats",
    status_code=204,
    responses=_ADMIN_ERRORS,
    tags=["ops"],
    summary="Reset the request counts (admin)",
)
async def reset_stats(server: ServerDep) -> Response:
    """Start counting from zero.

    \f
    Args:
        server: the server state.
    """
    server.stats.reset()
    return Response(status_code=204)


@admin_router.get(
    "/api/_faults",
    response_model=FaultsBody,
    responses=_ADMIN_ERRORS,
    tags=["ops"],
    summary="Read the fault-injection settings (admin)",
)
async def get_faults(server: ServerDep) -> Response:
    """The fault settings in force, with how many faults of each kind were injected.

    \f
    Args:
        server: the server state.
    """
    return JSONResponse(server.faults.as_json())


@admin_router.put(
    "/api/_faults",
    response_model=FaultsBody,
    responses=_ADMIN_ERRORS,
    tags=["ops"],
    summary="Change the fault-injection settings (admin)",
)
async def put_faults(server: ServerDep, update: FaultsUpdate) -> Response:
    """Replace rate, kinds and seed (the generator is reseeded).

    \f
    Args:
        server: the server state.
        update: the new fault settings.
    """
    try:
        kinds = parse_faults(update.faults)
    except ConfigError as exc:
        raise ProblemError(
            400, str(exc), details=[{"loc": ["body", "faults"], "msg": str(exc)}]
        ) from None
    faults = server.faults
    faults.update(update.faultRate, kinds, update.faultSeed)
    return JSONResponse(faults.as_json())


def _delivery(d: Delivery) -> dict[str, Any]:
    return {
        "deliveryId": d.id,
        "jobId": d.job_id,
        "event": d.event,
        "url": d.url,
        "state": d.state,
        "attempts": d.attempts,
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "createdAt": iso(d.created_at),
        "updatedAt": iso(d.updated_at),
    }


@admin_router.get(
    "/api/webhooks/failed",
    response_model=DeliveryList,
    responses=_ADMIN_ERRORS,
    tags=["webhooks"],
    summary="Webhook deliveries that failed (admin)",
)
async def failed_deliveries(engine: EngineDep) -> Response:
    """Deliveries whose attempts are exhausted or that got a 4xx, oldest first.

    \f
    Args:
        engine: the engine.
    """
    items = engine.store.deliveries("failed")
    return JSONResponse({"deliveries": [_delivery(d) for d in items]})


@admin_router.post(
    "/api/webhooks/failed/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryBody,
    responses={**_ADMIN_ERRORS, **problem_responses(404, 409)},
    tags=["webhooks"],
    summary="Send a failed delivery again (admin)",
)
async def redeliver(engine: EngineDep, delivery_id: str) -> Response:
    """Start a fresh series of attempts for a failed delivery (same delivery id).

    \f
    Args:
        engine: the engine.
        delivery_id: the failed delivery.
    """
    existing = engine.store.get_delivery(delivery_id)
    if existing is None:
        raise ProblemError(404, f"no webhook delivery with id {delivery_id!r}")
    if existing.state != "failed":
        raise ProblemError(409, f"the delivery is {existing.state}, not failed")
    delivery = engine.webhooks.redeliver(delivery_id)
    assert delivery is not None
    return JSONResponse(_delivery(delivery), status_code=202)
