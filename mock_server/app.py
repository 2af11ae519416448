"""The FastAPI application of the reference server: wiring, lifespan and error handlers.

``create_app(config)`` builds everything; the store, workers and webhook
sender start in the lifespan (so an in-process server works the same as the
``python -m mock_server`` one). Every error answer is problem+json.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from .config import ServerConfig
from .faults import FaultMiddleware, FaultSettings
from .lifecycle import Lifecycle
from .middleware import AccessMiddleware, AuthMiddleware, BodyLimitMiddleware, RequestStats
from .openapi import install_openapi
from .problems import ProblemError, problem_response
from .ratelimit import RateLimitMiddleware
from .routes_jobs import router as jobs_router
from .routes_ops import router as ops_router
from .routes_results import router as results_router
from .runtime import make_hub, open_store, results_dir_of
from .views import Server
from .webhooks import WebhookSender
from .worker import WorkerPool

__all__ = ["create_app", "results_dir_for"]

log = logging.getLogger("mock_server")


def results_dir_for(db: str) -> Path:
    """Where results of a SQLite server live: ``results/`` beside the database file
    (a temp dir for :memory:).

    Args:
        db: the ``--db`` value.
    """
    return results_dir_of(ServerConfig(db=db))


def _loc(loc: Any) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in loc]


def _install_handlers(app: FastAPI, routes: list[BaseRoute]) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        details = exc.details if isinstance(exc, ProblemError) else None
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
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
        details = [
            {"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return problem_response(
            400, f"the request is not valid: {where}: {first['msg']}", details=details
        )

    async def crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(500, "internal server error")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, crash)


def _install_store_handler(app: FastAPI) -> None:
    from redis.exceptions import RedisError

    async def store_down(request: Request, exc: Exception) -> Response:
        log.error("store error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return problem_response(
            503, "the job store is unavailable; try again", headers={"Retry-After": "1"}
        )

    app.add_exception_handler(RedisError, store_down)


def create_app(config: ServerConfig) -> FastAPI:
    """Build the reference server's ASGI app.

    Args:
        config: the settings (``config.validate()`` is called here).
    """
    config.validate()
    stats = RequestStats()
    faults = FaultSettings(config.fault_rate, config.faults, config.fault_seed, config.slow_delay)
    holder: dict[str, Server] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(config)
        store.drop_in_flight_keys()
        hub = await make_hub(config, store)
        lifecycle = Lifecycle(store, hub, config)
        results = results_dir_of(config)
        pool = WorkerPool(lifecycle, results, config.workers)
        sender = WebhookSender(lifecycle)
        lifecycle.webhooks = sender
        server = Server(config, store, hub, lifecycle, pool, sender, faults, stats, results)
        app.state.server = holder["server"] = server
        requeued = pool.start()
        resumed = sender.start()
        if requeued:
            log.info("re-queued %d job(s) interrupted by the last shutdown", len(requeued))
        if resumed:
            log.info("resumed %d pending webhook delivery(ies)", resumed)
        try:
            yield
        finally:
            await pool.stop()
            await sender.stop()
            stop_hub = getattr(hub, "stop", None)
            if stop_hub is not None:
                await stop_hub()
            store.close()
            if (
                config.store is None and config.db == ":memory:" and config.results_dir is None
            ):  # a throwaway store: its results go with it
                shutil.rmtree(results, ignore_errors=True)

    app = FastAPI(
        title="jobctl reference server",
        version="1",
        description="The async job protocol of jobctl (PROTOCOL.md), persistent, "
        "with fault injection.",
        lifespan=lifespan,
    )
    app.include_router(jobs_router)
    app.include_router(results_router)
    app.include_router(ops_router)
    routes = [*jobs_router.routes, *results_router.routes, *ops_router.routes]
    _install_handlers(app, routes)
    if config.store is not None:
        _install_store_handler(app)
    install_openapi(app, config)
    app.add_middleware(FaultMiddleware, settings=faults)
    app.add_middleware(RateLimitMiddleware, rate=config.rate_limit)
    app.add_middleware(
        AuthMiddleware, tokens=config.effective_tokens, admins=config.effective_admins
    )
    app.add_middleware(BodyLimitMiddleware, limit=config.max_body)
    app.add_middleware(AccessMiddleware, routes=routes, stats=stats, enabled=config.log_requests)
    return app
