"""What one process of a deployment needs, and the standalone worker process.

``open_store`` picks the store from the config (SQLite ``--db`` by default,
Redis with ``--store redis://...``), ``make_hub`` the matching wake-ups, and
``results_dir_of`` where result files go. ``run_worker`` is
``python -m mock_server worker``: workers (and webhook deliveries) without HTTP,
for deployments where API processes run with ``--workers 0``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from .config import ServerConfig, redact_url
from .events import EventHub
from .lifecycle import RESULT_GRACE_MIN, Lifecycle
from .store_api import JobStore
from .webhooks import WebhookSender
from .worker import WorkerPool

__all__ = ["check_store", "make_hub", "open_store", "results_dir_of", "run_worker", "store_label"]

log = logging.getLogger("mock_server")


def open_store(config: ServerConfig) -> JobStore:
    """The store the config names.

    Args:
        config: settings (``store`` and ``db``).
    """
    if config.store is None:
        from .store import Store

        return Store(config.db)
    from .store_redis import RedisStore

    return RedisStore(
        config.store,
        prefix=config.redis_prefix,
        grace=max(config.job_ttl, RESULT_GRACE_MIN),
        visibility=config.visibility_timeout,
    )


async def make_hub(config: ServerConfig, store: JobStore) -> EventHub:
    """Local wake-ups (SQLite), or ones fed by the Redis change channel (started here).

    Args:
        config: settings.
        store: the store from ``open_store``.
    """
    if config.store is None:
        return EventHub()
    from .hub_redis import RedisHub

    hub = RedisHub(config.store, getattr(store, "channel", config.redis_prefix + "changes"))
    await hub.start()
    return hub


def results_dir_of(config: ServerConfig) -> Path:
    """``--results-dir``; else ``results/`` beside the SQLite file (a temp dir for :memory:,
    ``./jobctl-results`` for Redis).

    Args:
        config: settings.
    """
    if config.results_dir is not None:
        return Path(config.results_dir).resolve()
    if config.store is not None:
        return Path("jobctl-results").resolve()
    if config.db == ":memory:":
        return Path(tempfile.mkdtemp(prefix="jobctl-results-"))
    return Path(config.db).resolve().parent / "results"


def store_label(config: ServerConfig) -> str:
    """How start-up lines name the store (never with a password).

    Args:
        config: settings.
    """
    if config.store is None:
        return f"database: {config.db}"
    prefix = f" (key prefix {config.redis_prefix!r})" if config.redis_prefix else ""
    return f"store: {redact_url(config.store)}{prefix}"


def check_store(config: ServerConfig) -> str | None:
    """Why the store (and the results directory) cannot be used, or None.

    Args:
        config: settings.
    """
    import sqlite3

    import redis

    try:
        store = open_store(config)
        try:
            ping = getattr(store, "ping", None)
            if ping is not None:
                ping()
        finally:
            store.close()
        if config.store is not None or config.db != ":memory:":
            results_dir_of(config).mkdir(parents=True, exist_ok=True)
    except (OSError, sqlite3.Error, redis.RedisError) as exc:
        return str(exc) or type(exc).__name__
    return None


async def run_worker(config: ServerConfig, *, stop_on_stdin_eof: bool = False) -> None:
    """Run ``config.workers`` workers on the shared store until SIGTERM/SIGINT (or stdin EOF).

    Args:
        config: settings (``store`` must be Redis).
        stop_on_stdin_eof: also stop when stdin closes (the parent is gone).
    """
    store = open_store(config)
    hub = await make_hub(config, store)
    lifecycle = Lifecycle(store, hub, config)
    pool = WorkerPool(lifecycle, results_dir_of(config), config.workers)
    sender = WebhookSender(lifecycle)
    lifecycle.webhooks = sender
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if stop_on_stdin_eof:

        def watch_stdin() -> None:
            with contextlib.suppress(OSError, ValueError):
                while os.read(sys.stdin.fileno(), 4096):  # raw: no buffer lock at exit
                    pass
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    pool.start()
    sender.start()
    print(
        f"jobctl reference worker running {config.workers} worker(s) on {redact_url(config.store)}",
        flush=True,
    )
    print(f"results: {pool.results_dir}", flush=True)
    try:
        await stop.wait()
    finally:
        await pool.stop()  # gives up this process's claims: other workers take the jobs
        await sender.stop()
        stopper = getattr(hub, "stop", None)
        if stopper is not None:
            await stopper()
        store.close()
