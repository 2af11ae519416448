"""One process's engine, and the worker-only process.

``Engine.open`` assembles what every process of a deployment runs: the store
the config names, the wake-up hub (fed by the store's change feed when other
processes write too), the transitions, the worker pool and the webhook sender.
The HTTP app runs one in its lifespan; ``run_worker`` is
``python -m mock_server worker``: an engine without HTTP, for deployments whose
API processes run with ``--workers 0``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import ServerConfig, redact_url
from ..store.base import ChangeFeed, JobStore
from ..store.factory import open_store, store_problem
from .hub import EventHub
from .lifecycle import Lifecycle
from .webhooks import WebhookSender
from .worker import WorkerPool

__all__ = ["Engine", "check_store", "results_dir_of", "run_worker", "watch_stdin"]

log = logging.getLogger("mock_server")


def results_dir_of(config: ServerConfig) -> Path:
    """``--results-dir``; else ``jobctl-results/`` beside the SQLite file (a temp dir for :memory:,
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
    return Path(config.db).resolve().parent / "jobctl-results"  # never a user's results/


def check_store(config: ServerConfig) -> str | None:
    """Why the store (and the results directory) cannot be used, or None.

    Args:
        config: settings.
    """
    problem = store_problem(config)
    if problem is not None:
        return problem
    if config.store is not None or config.db != ":memory:":
        try:
            results_dir_of(config).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return str(exc) or type(exc).__name__
    return None


@dataclass
class Engine:
    """Everything that runs jobs in one process.

    Args:
        config: settings.
        store: the store.
        hub: per-job wake-ups.
        lifecycle: transitions.
        pool: workers.
        webhooks: the delivery sender.
        results_dir: where result files live.
        changes: the subscription to other processes' changes (None for SQLite).
    """

    config: ServerConfig
    store: JobStore
    hub: EventHub
    lifecycle: Lifecycle
    pool: WorkerPool
    webhooks: WebhookSender
    results_dir: Path
    changes: ChangeFeed | None

    @classmethod
    async def open(cls, config: ServerConfig) -> Engine:
        """Open the store and assemble the engine (nothing runs until ``start``).

        Args:
            config: settings.
        """
        store = open_store(config)
        hub = EventHub()
        changes = await store.follow_changes(hub.notify, hub.notify_all)
        lifecycle = Lifecycle(store, hub, config)
        results = results_dir_of(config)
        pool = WorkerPool(lifecycle, results, config.workers)
        sender = WebhookSender(lifecycle)
        lifecycle.webhooks = sender
        return cls(config, store, hub, lifecycle, pool, sender, results, changes)

    def start(self) -> tuple[list[str], int]:
        """Start the workers and resume pending deliveries.

        Returns:
            ``(ids of jobs re-queued after a crash, number of deliveries resumed)``.
        """
        return self.pool.start(), self.webhooks.start()

    async def stop(self) -> None:
        """Stop workers and deliveries (this process's claims are given up), close the store."""
        await self.pool.stop()
        await self.webhooks.stop()
        if self.changes is not None:
            await self.changes.stop()
        self.store.close()
        config = self.config
        if config.store is None and config.db == ":memory:" and config.results_dir is None:
            shutil.rmtree(self.results_dir, ignore_errors=True)  # a throwaway store's results


def watch_stdin(loop: asyncio.AbstractEventLoop, on_eof: Callable[[], None]) -> None:
    """Call ``on_eof`` on the loop when stdin closes (the parent is gone); a daemon thread.

    Args:
        loop: the running loop.
        on_eof: what to do then.
    """

    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while os.read(sys.stdin.fileno(), 4096):  # raw: no buffer lock at exit
                pass
        loop.call_soon_threadsafe(on_eof)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


async def run_worker(config: ServerConfig, *, stop_on_stdin_eof: bool = False) -> None:
    """Run ``config.workers`` workers on the shared store until SIGTERM/SIGINT (or stdin EOF).

    Args:
        config: settings (``store`` must be Redis).
        stop_on_stdin_eof: also stop when stdin closes (the parent is gone).
    """
    engine = await Engine.open(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if stop_on_stdin_eof:
        watch_stdin(loop, stop.set)
    engine.start()
    print(
        f"jobctl reference worker running {config.workers} worker(s) on {redact_url(config.store)}",
        flush=True,
    )
    print(f"results: {engine.results_dir}", file=sys.stderr, flush=True)  # stdout: the ready line
    try:
        await stop.wait()
    finally:
        await engine.stop()  # gives up this process's claims: other workers take the jobs
