"""Operational routes: health, request stats, fault settings, failed webhook deliveries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .config import ConfigError, parse_faults
from .jobaccess import server_of
from .lifecycle import iso
from .problems import Problem, ProblemError
from .schemas import DeliveryBody, DeliveryList, FaultsBody, FaultsUpdate, HealthBody, StatsBody
from .store import Delivery

__all__ = ["router"]

router = APIRouter()
_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {401: _PROBLEM, 403: _PROBLEM}


def _require_admin(request: Request) -> None:
    if not request.state.admin:
        raise ProblemError(403, "this endpoint is for admins")


@router.get("/healthz", response_model=HealthBody, tags=["ops"], summary="Liveness")
async def healthz() -> dict[str, str]:
    """``200 {"status": "ok"}`` without authentication."""
    return {"status": "ok"}


@router.get(
    "/api/_stats",
    response_model=StatsBody,
    responses=_ADMIN_ERRORS,
    tags=["ops"],
    summary="Request counts per route and per job (admin)",
)
async def get_stats(request: Request) -> Response:
    """Counts of requests per route template and per job id since start (or reset).

    \f
    Args:
        request: the HTTP request (its state carries the authenticated user).
    """
    _require_admin(request)
    return JSONResponse(server_of(request).stats.snapshot())


@router.delete(
    "/api/_stats",
    status_code=204,
    responses=_ADMIN_ERRORS,
    tags=["ops"],
    summary="Reset the request counts (admin)",
)
async def reset_stats(request: Request) -> Response:
    """Start counting from zero.

    \f
    Args:
        request: the HTTP request (its state carries the authenticated user).
    """
    _require_admin(request)
    server_of(request).stats.reset()
    return Response(status_code=204)


@router.get(
    "/api/_faults",
    response_model=FaultsBody,
    responses=_ADMIN_ERRORS,
    tags=["ops"],
    summary="Read the fault-injection settings (admin)",
)
async def get_faults(request: Request) -> Response:
    """The fault settings in force, with how many faults of each kind were injected.

    \f
    Args:
        request: the HTTP request (its state carries the authenticated user).
    """
    _require_admin(request)
    return JSONResponse(server_of(request).faults.as_json())


@router.put(
    "/api/_faults",
    response_model=FaultsBody,
    responses={**_ADMIN_ERRORS, 400: _PROBLEM},
    tags=["ops"],
    summary="Change the fault-injection settings (admin)",
)
async def put_faults(request: Request, update: FaultsUpdate) -> Response:
    """Replace rate, kinds and seed (the generator is reseeded).

    \f
    Args:
        request: the HTTP request (its state carries the authenticated user).
        update: the new fault settings.
    """
    _require_admin(request)
    try:
        kinds = parse_faults(update.faults)
    except ConfigError as exc:
        raise ProblemError(
            400, str(exc), details=[{"loc": ["body", "faults"], "msg": str(exc)}]
        ) from None
    faults = server_of(request).faults
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


@router.get(
    "/api/webhooks/failed",
    response_model=DeliveryList,
    responses=_ADMIN_ERRORS,
    tags=["webhooks"],
    summary="Webhook deliveries that failed (admin)",
)
async def failed_deliveries(request: Request) -> Response:
    """Deliveries whose attempts are exhausted or that got a 4xx, oldest first.

    \f
    Args:
        request: the HTTP request (its state carries the authenticated user).
    """
    _require_admin(request)
    items = server_of(request).store.deliveries("failed")
    return JSONResponse({"deliveries": [_delivery(d) for d in items]})


@router.post(
    "/api/webhooks/failed/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryBody,
    responses={**_ADMIN_ERRORS, 404: _PROBLEM, 409: _PROBLEM},
    tags=["webhooks"],
    summary="Send a failed delivery again (admin)",
)
async def redeliver(request: Request, delivery_id: str) -> Response:
    """Start a fresh series of attempts for a failed delivery (same delivery id).

    \f
    Args:
        request: the HTTP request (its state carries the authenticated user).
        delivery_id: the failed delivery.
    """
    _require_admin(request)
    server = server_of(request)
    existing = server.store.get_delivery(delivery_id)
    if existing is None:
        raise ProblemError(404, f"no webhook delivery with id {delivery_id!r}")
    if existing.state != "failed":
        raise ProblemError(409, f"the delivery is {existing.state}, not failed")
    delivery = server.webhooks.redeliver(delivery_id)
    assert delivery is not None
    return JSONResponse(_delivery(delivery), status_code=202)
