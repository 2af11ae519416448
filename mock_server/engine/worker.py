"""Workers: run queued jobs with a concurrency limit, purge expired ones.

A job is claimed in the store before it runs, so it never runs twice at once
(SQLite: ``leased=1``; Redis: a claim key with a visibility timeout). While a
job runs, a guard renews the claim and watches the job: when it is cancelled
(by this or another process) or the claim was lost, the runner's flag is set;
it sees it at its next progress step (or while sleeping) and stops, and the
conditional transition in ``Lifecycle.complete`` guarantees its result is never
published. Jobs whose worker died are claimed again and run from the beginning
(SQLite: at the next start; Redis: once the dead worker's claim expired).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from ..store.base import JobRecord
from .jobtypes import JOB_TYPES, JobCancelled, JobFailure
from .lifecycle import Lifecycle

__all__ = ["RunContext", "WorkerPool"]

log = logging.getLogger("mock_server.worker")

GUARD_INTERVAL = 1.0
"""Seconds between the guard's checks of a running job when nothing wakes it."""


class RunContext:
    """The ``JobContext`` given to a runner.

    Args:
        lifecycle: transitions.
        job: the leased job.
        result_path: where the runner writes its result.
    """

    def __init__(self, lifecycle: Lifecycle, job: JobRecord, result_path: Path) -> None:
        self._lifecycle = lifecycle
        self.job_id = job.id
        self.attempt = job.attempt
        self.result_path = result_path
        self.cancelled = asyncio.Event()

    async def progress(self, current: int, total: int, message: str | None = None) -> None:
        """Record a step; raise JobCancelled when the job is no longer processing.

        Args:
            current: steps done.
            total: steps in all.
            message: a human note.
        """
        if self.cancelled.is_set():
            raise JobCancelled
        if not self._lifecycle.progress(self.job_id, current, total, message):
            raise JobCancelled
        await asyncio.sleep(0)

    async def sleep(self, seconds: float) -> None:
        """Sleep, waking early with JobCancelled when the job is cancelled.

        Args:
            seconds: how long.
        """
        if self.cancelled.is_set():
            raise JobCancelled
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.cancelled.wait(), timeout=seconds)
        if self.cancelled.is_set():
            raise JobCancelled


class WorkerPool:
    """N workers pulling jobs from the store.

    Args:
        lifecycle: transitions (and through it the store).
        results_dir: directory for result files.
        workers: how many jobs run at once.
    """

    def __init__(self, lifecycle: Lifecycle, results_dir: Path, workers: int) -> None:
        self.lifecycle = lifecycle
        self.store = lifecycle.store
        self.results_dir = results_dir
        self.workers = workers
        self.running: dict[str, RunContext] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Lock()  # held by the one idle worker watching for work
        self._tasks: list[asyncio.Task[None]] = []
        self.guard_interval = min(GUARD_INTERVAL, lifecycle.config.visibility_timeout / 3)

    def start(self) -> list[str]:
        """Re-queue interrupted jobs and start the workers; returns the re-queued ids."""
        self.results_dir.mkdir(parents=True, exist_ok=True)
        requeued = self.store.release_leases()
        if self.workers:
            self.lifecycle.hub.listeners.append(lambda _job_id: self._wake.set())
        for i in range(self.workers):
            self._tasks.append(asyncio.create_task(self._loop(), name=f"worker-{i}"))
        self._tasks.append(asyncio.create_task(self._purge_loop(), name="purge"))
        return requeued

    async def stop(self) -> None:
        """Stop the workers; jobs that were running are picked up again at the next start."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        try:
            self.store.release_leases()
        except Exception:  # the store is gone: the claims lapse after the visibility timeout
            log.warning("could not release this process's claims", exc_info=True)

    def wake(self) -> None:
        """Tell idle workers that a job was queued."""
        self._wake.set()

    def cancel(self, job_id: str) -> None:
        """Stop the job if it is running here (its status was already set to cancelled).

        Args:
            job_id: the job.
        """
        ctx = self.running.get(job_id)
        if ctx is not None:
            ctx.cancelled.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # the store is unreachable (Redis down): try again shortly
                log.exception("worker step failed; retrying in 1 s")
                await asyncio.sleep(1.0)

    async def _step(self) -> None:
        """Claim and run one job, or wait (up to 1 s) for one to be queued.

        One idle worker at a time watches for work; the others queue behind it on
        ``_idle``. A wake-up (any change the hub hears, from this process or another)
        then costs one look at the store, not one per idle worker, and an idle pool
        looks once a second, not once a second per worker (with 500 workers the old
        way made every progress step 500 store queries). Whoever claims a job passes
        the wake-up on: there may be more.
        """
        job = self.store.claim_next(self.lifecycle.clock())
        if job is None:
            async with self._idle:
                # Looked again with the watch held: a job queued while this worker waited
                # for it is seen here, and no yield separates the look from the clear.
                job = self.store.claim_next(self.lifecycle.clock())
                if job is None:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                    return
        self._wake.set()  # there may be more: let another idle worker look
        if job.id in self.running:  # its claim had lapsed while it ran here: keep it
            return
        await self._run(job)

    async def _run(self, job: JobRecord) -> None:
        job_type = JOB_TYPES[job.type]
        path = self.results_dir / f"{job.id}.part"
        ctx = RunContext(self.lifecycle, job, path)
        self.running[job.id] = ctx
        guard = asyncio.create_task(self._guard(job.id, ctx), name=f"guard-{job.id}")
        try:
            self.lifecycle.started(job)
            outcome = await job_type.run(ctx, job.input)
            final = self.results_dir / job.id
            outcome_path = outcome.path
            if outcome_path == path:
                path.replace(final)
                outcome = type(outcome)(
                    outcome.output,
                    final,
                    outcome.content_type,
                    outcome.filename,
                    outcome.size,
                    outcome.sha256,
                )
            if not self.lifecycle.complete(job.id, outcome):
                final.unlink(missing_ok=True)
        except JobCancelled:
            log.info("job %s stopped after cancellation", job.id)
        except JobFailure as exc:
            self.lifecycle.fail(job.id, exc.code, exc.message, exc.retryable)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("job %s crashed", job.id)
            self.lifecycle.fail(job.id, "internal_error", f"the job crashed: {exc}", True)
        finally:
            guard.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await guard
            self.running.pop(job.id, None)
            self.store.release_claim(job.id)
            path.unlink(missing_ok=True)

    async def _guard(self, job_id: str, ctx: RunContext) -> None:
        """Renew the job's claim; stop the runner when the job is cancelled or the claim lost."""
        hub = self.lifecycle.hub
        while not ctx.cancelled.is_set():
            wake = hub.watch(job_id)
            try:
                job = self.store.get_job(job_id)
                if job is None or job.status != "processing":
                    ctx.cancelled.set()
                    return
                if not self.store.renew_claim(job_id):
                    log.warning("job %s: this worker lost its claim; stopping it here", job_id)
                    ctx.cancelled.set()
                    return
            except Exception:  # the store is unreachable: look again at the next interval
                log.warning("job %s: cannot renew its claim; retrying", job_id, exc_info=True)
            await hub.wait(job_id, wake, self.guard_interval)

    async def _purge_loop(self) -> None:
        interval = max(0.5, min(60.0, self.lifecycle.config.job_ttl / 2))
        while True:
            await asyncio.sleep(interval)
            try:
                self.purge()
            except Exception:
                log.exception("purge failed")

    def purge(self) -> tuple[int, int]:
        """Delete expired result files and purge jobs past their grace period.

        Returns:
            ``(files deleted, jobs purged)``.
        """
        now = self.lifecycle.clock()
        files, gone = self.store.expired(now, self.lifecycle.result_grace())
        for job in files:
            if job.result_path:
                Path(job.result_path).unlink(missing_ok=True)
            self.store.update_job(job.id, result_path=None)
        for job_id in gone:
            self.store.delete_job(job_id)
            self.lifecycle.hub.notify(job_id)
        self.store.purge_keys(now)
        return len(files), len(gone)
