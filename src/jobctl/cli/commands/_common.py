"""Helpers every command shares: the state, running async bodies, JOB refs, final output."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ..exitcodes import CliError, ExitCode, worst
from ..failure import error_line
from ..state import AppState

if TYPE_CHECKING:
    from ... import AsyncJobsClient
    from ..display import NullProgress
    from ..download import Destination
    from ..waiting import Outcome

__all__ = [
    "DotenvOpt",
    "JobArg",
    "JobsArg",
    "JunitOpt",
    "LastOpt",
    "Strategy",
    "TimeoutOpt",
    "exit_with",
    "job_display",
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
JunitOpt = Annotated[
    str | None,
    typer.Option(
        "--junit",
        metavar="FILE",
        help="Also write a JUnit XML report: one test case per job (any CI).",
    ),
]
DotenvOpt = Annotated[
    str | None,
    typer.Option(
        "--dotenv",
        metavar="FILE",
        help="Also write JOBCTL_JOB_ID, JOBCTL_STATUS, ... lines (GitLab's reports:dotenv).",
    ),
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
        ledger = state.ledger()
        entry = ledger.last(state.server)
        if entry is None and (other := ledger.last()) is not None:
            raise CliError(
                f"--last: no job submitted to {state.server} in the local ledger; the newest "
                f"({other.job_id}) went to {other.base_url}: use --url {other.base_url} "
                "(with that server's token) to follow it",
                ExitCode.USAGE,
            )
        if entry is not None and entry.token is not None:
            newest = entry.token
        elif entry is not None:
            from ..urls import same_origin

            url = entry.status_url
            newest = url if url and same_origin(url, state.server) else entry.job_id
    refs = [
        _named_operation(state, ref)
        for ref in resolve_job_refs(list(jobs or []), last=last, newest=newest)
    ]
    from ..._core.operations import TOKEN_PREFIX, Operation
    from ..._core.refs import parse_ref

    for ref in refs:  # a bad reference is a usage error before anything is sent or written
        if ref.startswith(TOKEN_PREFIX):
            Operation.from_token(ref)
        else:
            parse_ref(ref)
    return refs


def _named_operation(state: AppState, ref: str) -> str:
    """``op-XXXXXXXX`` (the short name progress lines give an operation ``jobctl call``
    started) becomes its resume token from the local ledger."""
    import re

    if not re.fullmatch(r"op-[A-Za-z0-9_-]{8}", ref):
        return ref
    for entry in reversed(state.ledger().entries()):
        if entry.job_id == ref and entry.token is not None:
            return entry.token
    raise CliError(
        f"{ref}: no operation of that name in the local ledger (jobctl call records those "
        "it starts); pass its resume token instead",
        ExitCode.USAGE,
    )


def output_destination(state: AppState, output: str | None) -> Destination | None:
    """``-o``: where the result goes, checked before anything is submitted; resume hints
    of this run will repeat it (``jobctl wait ID -o PATH``).

    Args:
        state: the run's state.
        output: the ``-o`` value, or None.
    """
    from ..download import check_destination, plan_destination

    if output is None:
        return None
    dest = plan_destination(output)
    check_destination(dest)
    state.resume_args = ("-o", output)
    return dest


def check_strategy(strategy: str) -> str:
    """Validate ``--strategy``.

    Args:
        strategy: the flag's value.
    """
    if strategy not in ("auto", "sse", "poll"):
        raise CliError(f"invalid --strategy {strategy!r}: use auto, sse or poll")
    return strategy


def job_display(state: AppState) -> NullProgress:
    """The progress display for following jobs: the CI session's (groups or sections per
    job), else the one ``--progress`` asks for.

    Args:
        state: the run's state.
    """
    if state.ci is not None:
        return state.ci.display()
    from ..progress import make_job_progress

    return make_job_progress(
        state.progress_mode, stderr=state.io.stderr, console=lambda: state.io.err
    )


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


def print_jobs(state: AppState, outcomes: Sequence[Outcome], *, single: bool) -> None:
    """Final output on stdout, one entry per JOB in the order given.

    ``--json``: the job document of each (an object for one job, else a list); a
    job never seen (not found, unreachable, a bad reference) is
    ``{"jobId", "status": null, "problem": {"exitCode", "message"}}`` so no JOB
    drops out of the array. Otherwise ``ID STATUS`` lines (``ID unknown`` for a
    job never seen; the error line is on stderr).

    Args:
        state: the run's state.
        outcomes: how each job ended.
        single: one job was asked for (``--json`` prints an object, not a list).
    """
    from ..render import status_text, to_jsonable
    from ..text import clean

    if state.options.json:
        docs: list[Any] = []
        for o in outcomes:
            if o.operation is not None:
                docs.append(o.operation.to_json())
            elif o.job is not None:
                docs.append(to_jsonable(o.job))
            else:
                message = error_line(state, o.error) if o.error else "no answer"
                problem = {"exitCode": int(o.code), "message": message}
                docs.append({"jobId": o.job_id, "status": None, "problem": problem})
        state.io.write_out(json.dumps(docs[0] if single and docs else docs))
        return
    for o in outcomes:
        status: str
        if o.operation is not None:
            status = o.operation.outcome
        else:
            status = status_text(o.job.status) if o.job is not None else "unknown"
        state.io.write_out(f"{clean(o.job_id)} {status}")


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
        print_jobs(state, outcomes, single=single)
    from ..operations import error_of

    for outcome in outcomes:
        exc = outcome.error
        op = outcome.operation
        if op is not None and op.outcome != "succeeded":
            why = clean(error_of(op)) or op.outcome
            name = f"{op.dialect} operation {clean(outcome.job_id)}"
            hint = ""
            if op.outcome == "timeout" and op.resume_token:
                hint = f"; resume with: jobctl wait {op.resume_token}"
            state.io.write_err(f"error: {name} {op.outcome}: {why}{hint}")
            continue
        if exc is None and outcome.job is not None:
            if outcome.job.status == JobStatus.FAILED:
                exc = JobFailedError(outcome.job)
            elif outcome.job.status == JobStatus.CANCELLED:
                exc = JobCancelledError(outcome.job)
        if exc is not None:
            line = error_line(state, exc)  # escaped
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
