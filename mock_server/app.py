"""The FastAPI application of the reference server: the engine behind the HTTP layer.

``create_app(config)`` builds the app from the ``http`` layer: its routers (``/api``,
the other dialects' in ``http/dialects``, the dashboard at ``/``), problem+json
handlers, the corrected OpenAPI document and the middleware. The engine (store, workers,
webhook sender) opens and starts in the lifespan, so an app served by any ASGI
server works the same as ``python -m mock_server``, and reaches the routes as
``app.state.server`` through the dependencies of ``http.deps``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from .config import ServerConfig
from .engine.runtime import Engine
from .http.deps import ServerState
from .http.dialects import arm, armops, azure, google, location
from .http.examples import router as examples_router
from .http.faults import FaultMiddleware, FaultSettings
from .http.middleware import AccessMiddleware, AuthMiddleware, BodyLimitMiddleware, RequestStats
from .http.misbehave import MisbehaveMiddleware
from .http.openapi import install_openapi
from .http.problems import install_problem_handlers
from .http.ratelimit import RateLimitMiddleware
from .http.routes_dashboard import router as dashboard_router
from .http.routes_jobs import router as jobs_router
from .http.routes_mux import router as mux_router
from .http.routes_ops import admin_router
from .http.routes_ops import router as ops_router
from .http.routes_results import router as results_router
from .http.routes_tickets import router as tickets_router
from .http.tickets import Tickets
from .store.factory import unavailable_errors

__all__ = ["create_app"]

log = logging.getLogger("mock_server")


def create_app(config: ServerConfig) -> FastAPI:
    """Build the reference server's ASGI app.

    Args:
        config: the settings (``config.validate()`` is called here).
    """
    config.validate()
    stats = RequestStats()
    faults = FaultSettings(config.fault_rate, config.faults, config.fault_seed, config.slow_delay)
    tickets = Tickets()  # its key comes from the store, once it is open

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await Engine.open(config)
        engine.store.drop_in_flight_keys()
        tickets.open(engine.store.secret("events-ticket"), engine.lifecycle.clock)
        app.state.server = ServerState(engine, faults, stats, tickets=tickets)
        requeued, resumed = engine.start()
        if requeued:
            log.info("re-queued %d job(s) interrupted by the last shutdown", len(requeued))
        if resumed:
            log.info("resumed %d pending webhook delivery(ies)", resumed)
        try:
            yield
        finally:
            await engine.stop()

    app = FastAPI(
        title="jobctl reference server",
        version="1",
        description="The async job protocol of jobctl (PROTOCOL.md), persistent, "
        "with fault injection.",
        lifespan=lifespan,
    )
    dialects = (
        azure.router,
        arm.router,
        armops.router,
        google.router,
        google.v1_router,
        location.router,
    )
    routers = (
        jobs_router,
        results_router,
        mux_router,
        tickets_router,
        examples_router,
        ops_router,
        admin_router,
        *dialects,
        dashboard_router,
    )
    for router in routers:
        app.include_router(router)
    routes = [route for router in routers for route in router.routes]
    install_problem_handlers(app, routes, unavailable_errors(config))
    install_openapi(app, config)
    app.add_middleware(FaultMiddleware, settings=faults)
    app.add_middleware(RateLimitMiddleware, rate=config.rate_limit)
    app.add_middleware(
        AuthMiddleware,
        tokens=config.effective_tokens,
        admins=config.effective_admins,
        tickets=tickets,
    )
    app.add_middleware(BodyLimitMiddleware, limit=config.max_body)
    if config.misbehave:  # around every answer but the access log's view of it
        app.add_middleware(MisbehaveMiddleware, misbehave=config.misbehave)
    app.add_middleware(
        AccessMiddleware,
        routes=routes,
        stats=stats,
        enabled=config.log_requests,
        second_origin=config.result_base_url,
    )
    return app
