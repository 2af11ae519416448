"""Helpers every command shares: the state, running async bodies, JOB refs, final output."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ..exitcodes import CliError, ExitCode, worst
from ..failure import describe
from ..state import AppState

if TYPE_CHECKING:
    from ... import AsyncJobsClient
    from ...models import Job
    from ..waiting import Outcome

__all__ = [
    "JobArg",
    "JobsArg",
    "LastOpt",
    "Strategy",
    "TimeoutOpt",
    "exit_with",
    "job_refs",
    "print_jobs",
    "report_outcomes",
    "run_with_client",
    "state_of",
]

T = TypeVar("T")

JobArg = Annotated[
    str | None,
    typer.Argument(metavar="JOB", help="A job id or status URL.", show_default=False),
]
JobsArg = Annotated[
    list[str] | None,
    typer.Argument(metavar="JOB", help="Job ids or status URLs.", show_default=False),
]
LastOpt = Annotated[
    bool, typer.Option("--last", help="The newest job in the local ledger of submitted jobs.")
]
TimeoutOpt = Annotated[
    str | None,
    typer.Option("--timeout", metavar="DUR", help="Overall deadline: 90, 90s, 15m, 2h."),
]
Strategy = Annotated[
    str,
    typer.Option("--strategy", metavar="auto|sse|poll", help="How to follow: events or polls."),
]


def state_of(ctx: typer.Context) -> AppState:
    """The run's state, made by the root callback.

    Args:
        ctx: the command's context.
    """
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):  # pragma: no cover - the callback always sets it
        raise RuntimeError("jobctl state missing")
    return root.obj


def job_refs(state: AppState, jobs: Sequence[str] | None, last: bool) -> list[str]:
    """JOB arguments with ``--last`` resolved from the ledger.

    Args:
        state: the run's state.
        jobs: the JOB arguments.
        last: whether ``--last`` was given.
    """
    from ..inputs import resolve_job_refs

    newest = None
    if last:
        entry = state.ledger().last()
        newest = (entry.status_url or entry.job_id) if entry else None
    return resolve_job_refs(list(jobs or []), last=last, newest=newest)


def check_strategy(strategy: str) -> str:
    """Validate ``--strategy``.

    Args:
        strategy: the flag's value.
    """
    if strategy not in ("auto", "sse", "poll"):
        raise CliError(f"invalid --strategy {strategy!r}: use auto, sse or poll")
    return strategy


def run_with_client(state: AppState, body: Callable[[AsyncJobsClient], Awaitable[T]]) -> T:
    """Run an async command body with an open ``AsyncJobsClient``.

    Args:
        state: the run's state.
        body: the coroutine function to run with the client.
    """

    import asyncio

    async def main() -> T:
        async with state.async_client() as client:
            return await body(client)

    return asyncio.run(main())


def print_jobs(state: AppState, jobs: Sequence[Job], *, single: bool) -> None:
    """Final output on stdout: the job document(s) with ``--json``, else ``ID STATUS`` lines.

    Args:
        state: the run's state.
        jobs: the jobs.
        single: one job was asked for (``--json`` prints an object, not a list).
    """
    from ..render import status_text, to_jsonable
    from ..text import clean

    if state.options.json:
        docs: Any = [to_jsonable(j) for j in jobs]
        state.io.write_out(json.dumps(docs[0] if single and docs else docs))
        return
    for job in jobs:
        state.io.write_out(f"{clean(job.job_id)} {status_text(job.status)}")


def report_outcomes(
    state: AppState, outcomes: Sequence[Outcome], *, single: bool, stdout: bool = True
) -> ExitCode:
    """Print the final state of followed jobs (stdout) and one error line each (stderr).

    Args:
        state: the run's state.
        outcomes: how following each job ended.
        single: one job was asked for.
        stdout: print the jobs on stdout (False: stdout is taken, errors only).

    Returns:
        The worst exit code among them.
    """
    from ... import JobCancelledError, JobFailedError
    from ...models import JobStatus
    from ..text import clean

    if stdout:
        print_jobs(state, [o.job for o in outcomes if o.job is not None], single=single)
    settings = state.safe_settings()
    url, token = (settings.url, settings.token) if settings else (None, None)
    for outcome in outcomes:
        exc = outcome.error
        if exc is None and outcome.job is not None:
            if outcome.job.status == JobStatus.FAILED:
                exc = JobFailedError(outcome.job)
            elif outcome.job.status == JobStatus.CANCELLED:
                exc = JobCancelledError(outcome.job)
        if exc is not None:
            line = describe(exc, url=url, token=token)  # escaped
            shown = clean(outcome.job_id)
            prefix = "" if shown in line else f"job {shown}: "
            state.io.write_err(f"error: {prefix}{line}")
    return worst(o.code for o in outcomes)


def exit_with(code: int) -> None:
    """End the command with ``code`` (nothing happens for 0).

    Args:
        code: the exit code.
    """
    if code:
        raise typer.Exit(int(code))
