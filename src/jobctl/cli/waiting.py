"""Following one or more jobs to their end under one deadline, with progress and Ctrl-C.

The SDK does the following (SSE or long polls, retries, the deadline); this
module only runs one ``AsyncJobsClient.wait`` per job concurrently, feeds their
progress callbacks to a display, ticks the display once a second (held-back
plain lines, heartbeats), and handles SIGINT/SIGTERM: stop waiting, optionally
cancel the jobs, say how to resume, and report 130/143.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import JobctlError
from .exitcodes import CliError, ExitCode, code_for_exception, code_for_status
from .operations import code_for_outcome, error_of, is_operation, operation_key
from .progress import NullProgress
from .render import error_text, format_duration
from .signals import SignalTrap, exit_code_for_signal, signal_name
from .text import clean

if TYPE_CHECKING:
    from .. import AsyncJobsClient, Deadline, Operation, OperationResult
    from ..models import Job, Progress
    from .state import AppState

__all__ = ["Outcome", "display_id", "follow_jobs", "resume_command", "snapshot_of"]


@dataclass
class Outcome:
    """How following one job ended.

    Args:
        ref: the JOB as given (an id or status URL the user typed, or an operation's
            resume token or monitor URL), or the ``Job``/``Operation`` the command
            started (so its server-given URLs stay subject to the SDK's origin rules
            instead of passing for URLs the user chose).
        job: the last snapshot (terminal unless the wait ran out or failed).
        error: what went wrong, if anything (WaitTimeoutError, APIError, ...).
        operation: how following an operation of any API ended (its ``outcome``).
    """

    ref: Job | Operation | str
    job: Job | None = None
    error: BaseException | None = None
    operation: OperationResult | None = None

    @property
    def code(self) -> ExitCode:
        """This job's exit code: the error's, else the final status's (or outcome's)."""
        if self.error is not None:
            return code_for_exception(self.error)
        if self.operation is not None:
            return code_for_outcome(self.operation)
        return code_for_status(self.job.status if self.job else "unknown")

    @property
    def job_id(self) -> str:
        """The job's id (from the snapshot, else derived from the ref)."""
        return self.job.job_id if self.job is not None else display_id(self.ref)


def display_id(ref: Job | Operation | str) -> str:
    """The job id inside a JOB reference (the last path segment of a status URL), or an
    operation's short name.

    Args:
        ref: an id, a status URL, a ``Job``, or an operation (token, URL, ``Operation``).
    """
    if isinstance(ref, str) and ref.startswith("jobctl-op"):
        return operation_key(ref)
    if not isinstance(ref, str):
        return operation_key(ref) if hasattr(ref, "dialect") else ref.job_id
    if "://" in ref:
        path = ref.split("?", 1)[0].rstrip("/")
        return path.rsplit("/", 1)[-1]
    return ref


def resume_command(refs: Sequence[Job | Operation | str], extra: Sequence[str] = ()) -> str:
    """``jobctl wait ID [ID ...] [EXTRA ...]``, quoted for a shell.

    Args:
        refs: the jobs to resume.
        extra: what the interrupted command also asked for (``-o PATH``).
    """
    import shlex

    words = ["jobctl", "wait", *(_resumable(r) for r in refs), *extra]
    return " ".join(shlex.quote(w) for w in words)


def _resumable(ref: Job | Operation | str) -> str:
    """What ``jobctl wait`` takes to resume: a job's id, an operation's token."""
    if isinstance(ref, str) and ref.startswith("jobctl-op"):
        return ref
    if not isinstance(ref, str) and hasattr(ref, "resume_token"):
        return str(ref.resume_token)
    return display_id(ref)


def snapshot_of(update: Any) -> tuple[object, Progress | None, Job | None]:
    """Status, progress and (when present) the Job from whatever the SDK's callback passes.

    Args:
        update: a Job, a JobEvent or an update record with a ``job``.
    """
    job = update if hasattr(update, "job_id") else getattr(update, "job", None)
    if job is not None:
        return job.status, job.progress, job
    return getattr(update, "status", None) or "processing", getattr(update, "progress", None), None


async def _ticker(display: NullProgress) -> None:
    import asyncio

    while True:
        await asyncio.sleep(0.5)
        display.tick()


async def follow_jobs(
    state: AppState,
    client: AsyncJobsClient,
    refs: Sequence[Job | Operation | str],
    *,
    deadline: Deadline,
    strategy: str = "auto",
    display: NullProgress | None = None,
    cancel_on_interrupt: bool = False,
    labels: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> list[Outcome]:
    """Wait for every job in ``refs`` concurrently; one overall deadline for all.

    Args:
        state: the run's state (for hints).
        client: the async SDK client.
        refs: job ids or status URLs as given, or submitted ``Job``s.
        deadline: the one deadline for all of them.
        strategy: ``auto``, ``sse`` or ``poll``.
        display: the progress display.
        cancel_on_interrupt: cancel unfinished jobs on Ctrl-C / SIGTERM.
        labels: a short label per job id (e.g. the job type) for the live display.
        headers: headers for operations' own origins (``-H``).

    Raises:
        CliError: with code 130 or 143 when interrupted (after the hints are printed).
    """
    import asyncio

    from ..models import JobEvent, WaitTimeoutError

    display = display or NullProgress()
    outcomes = [Outcome(ref) for ref in refs]
    if state.ci is not None:
        state.ci.track(outcomes)  # reported even if the wait is cut short (cli/ci)

    async def operation(outcome: Outcome, key: str) -> None:
        def on_progress(op: Operation) -> None:
            display.add(key, op.dialect)
            display.update(key, op.status or "running", op.progress)

        result = await client.wait_operation(
            outcome.ref,  # type: ignore[arg-type]
            timeout=deadline,
            on_progress=on_progress,
            on_connection=lambda event: display.connection(key, event),
            headers=dict(headers or {}),
        )
        outcome.operation = result
        display.add(key, result.dialect)
        display.done(key, result.outcome, error_of(result) or None)

    async def one(outcome: Outcome) -> None:
        ref = outcome.ref
        key = display_id(ref)
        if is_operation(ref, state.server):
            display.add(key, None)
            try:
                await operation(outcome, key)
            except JobctlError as exc:  # a bad token or monitor: refused before following
                outcome.error = exc
                display.done(key, "error", str(exc))
            return
        label = (labels or {}).get(key)
        display.add(key, label)

        def learn(job: Job | None) -> None:
            if label is None and job is not None and job.type:
                display.add(key, job.type)  # the type, learnt from a snapshot

        def on_progress(update: Any) -> None:
            status, progress, job = snapshot_of(update)
            if job is not None:
                outcome.job = job
                learn(job)
            display.update(key, status, progress)

        assert isinstance(ref, str) or not hasattr(ref, "dialect")  # a job, from here on
        try:
            job = await client.wait(
                ref,
                timeout=deadline,
                # nobody sees progress with --progress none / -q: long polls then wait
                # for a change of status only
                on_progress=None if type(display) is NullProgress else on_progress,
                strategy=strategy,  # type: ignore[arg-type]
                on_connection=lambda event: display.connection(key, event),
            )
        except WaitTimeoutError as exc:
            outcome.job = exc.job or outcome.job
            outcome.error = exc
            learn(outcome.job)
            last = outcome.job.status if outcome.job else "processing"
            display.done(key, last, f"timed out after {format_duration(exc.timeout)}")
            return
        except JobctlError as exc:
            outcome.error = exc
            display.done(key, "error", str(exc))
            return
        outcome.job = job
        learn(job)  # a job that had already ended reports no progress first
        display.done(key, job.status, error_text(job.error) or None)

    async def many(group: list[Outcome]) -> None:
        """Several jobs of this API: one multiplexed stream for all (``wait_many``)."""
        by_id: dict[str, list[Outcome]] = {}
        for outcome in group:
            key = display_id(outcome.ref)
            display.add(key, (labels or {}).get(key))
            by_id.setdefault(key, []).append(outcome)
        finished: set[str] = set()

        def settle(job: Job) -> None:
            for outcome in by_id.get(job.job_id, ()):
                outcome.job = job
            if job.type and not (labels or {}).get(job.job_id):
                display.add(job.job_id, job.type)
            if job.is_terminal and job.job_id not in finished:
                finished.add(job.job_id)
                display.done(job.job_id, job.status, error_text(job.error) or None)
            elif not job.is_terminal:
                display.update(job.job_id, job.status, job.progress)

        def on_event(event: JobEvent) -> None:
            if event.job is not None:
                settle(event.job)

        first = display_id(group[0].ref)
        try:
            jobs = await client.wait_many(
                [o.ref for o in group],  # type: ignore[misc]
                timeout=deadline,
                on_event=on_event,
                strategy=strategy,  # type: ignore[arg-type]
                on_connection=lambda event: display.connection(first, event),
            )
        except WaitTimeoutError as exc:
            for job in exc.jobs:
                for outcome in by_id.get(job.job_id, ()):
                    outcome.job = job
            for outcome in group:
                if outcome.job is not None and outcome.job.is_terminal:
                    continue
                outcome.error = WaitTimeoutError(outcome.job, exc.timeout)
                if outcome.job_id not in finished:
                    finished.add(outcome.job_id)
                    last = outcome.job.status if outcome.job else "processing"
                    display.done(
                        outcome.job_id, last, f"timed out after {format_duration(exc.timeout)}"
                    )
            return
        except JobctlError:
            # One job refused the stream (unknown, another user's): follow each on its
            # own, so that each gets its own answer and the others still end well.
            await asyncio.gather(
                *(one(o) for o in group if not (o.job is not None and o.job.is_terminal))
            )
            return
        for job in jobs:
            settle(job)

    jobs_here = [o for o in outcomes if not is_operation(o.ref, state.server)]
    if len(jobs_here) > 1:
        alone = [o for o in outcomes if is_operation(o.ref, state.server)]
    else:
        alone, jobs_here = outcomes, []
    ticker = asyncio.ensure_future(_ticker(display))
    trap = SignalTrap()
    try:
        with trap:
            try:
                together = [many(jobs_here)] if jobs_here else []
                await asyncio.gather(*together, *(one(o) for o in alone))
            except asyncio.CancelledError:
                if not trap.absorb():
                    raise
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        display.close()
    if trap.signum is not None:
        await _interrupted(state, client, outcomes, trap.signum, cancel_on_interrupt)
    return outcomes


async def _interrupted(
    state: AppState,
    client: AsyncJobsClient,
    outcomes: list[Outcome],
    signum: int,
    cancel: bool,
) -> None:
    import asyncio

    pending = [o for o in outcomes if not (o.job is not None and o.job.is_terminal)]
    cancelled: list[Job | Operation | str] = []
    if cancel:
        for outcome in pending:
            try:
                if is_operation(outcome.ref, state.server):
                    stop = client.cancel_operation(outcome.ref)  # type: ignore[arg-type]
                    if not await asyncio.wait_for(stop, timeout=15.0):
                        state.hint(f"{clean(outcome.job_id)}: its API has no way to cancel")
                        continue
                else:
                    await asyncio.wait_for(client.cancel(outcome.ref), timeout=15.0)  # type: ignore[arg-type]
                cancelled.append(outcome.ref)
                state.hint(f"cancelled job {clean(outcome.job_id)}")
            except (JobctlError, TimeoutError) as exc:
                state.io.write_err(
                    f"error: could not cancel job {clean(outcome.job_id)}: {clean(str(exc))}"
                )
    running = [o.ref for o in pending if not any(o.ref is c for c in cancelled)]
    how = signal_name(signum)
    if running:
        raise CliError(
            f"{how}: stopped waiting; {'the job keeps' if len(running) == 1 else 'the jobs keep'}"
            f" running; resume with: "
            f"{resume_command(running, state.resume_args)}",
            exit_code_for_signal(signum),
        )
    raise CliError(f"{how}: stopped waiting", exit_code_for_signal(signum))
