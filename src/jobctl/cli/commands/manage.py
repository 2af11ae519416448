"""``jobctl cancel`` and ``jobctl retry``: change a job's course."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ...errors import JobctlError
from ..exitcodes import ExitCode, worst
from ..failure import error_line
from ..inputs import parse_timeout
from ._common import (
    JobsArg,
    LastOpt,
    TimeoutOpt,
    exit_with,
    job_refs,
    output_destination,
    print_jobs,
    run_with_client,
    state_of,
)

if TYPE_CHECKING:
    from ... import AsyncJobsClient

__all__ = ["cancel", "retry"]


def cancel(
    ctx: typer.Context,
    jobs: JobsArg = None,
    last: LastOpt = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until each job has really stopped.")
    ] = False,
    timeout: TimeoutOpt = None,
) -> None:
    """Cancel jobs (a cancelled job is success here: exit 0)."""
    state = state_of(ctx)
    refs = job_refs(state, jobs, last)
    seconds = parse_timeout(timeout, state.settings.timeout)

    from ..waiting import Outcome

    outcomes: list[Outcome] = []
    with state.client() as client:  # one-shot: the sync client, no event loop
        deadline = client.deadline(seconds)  # one deadline for every job
        for ref in refs:
            outcome = Outcome(ref)
            outcomes.append(outcome)
            try:
                outcome.job = client.cancel(ref)
                if wait and not outcome.job.is_terminal:
                    outcome.job = client.wait(ref, timeout=deadline)
            except JobctlError as exc:
                outcome.error = exc
                state.io.write_err(f"error: {error_line(state, exc)}")
    print_jobs(state, outcomes, single=len(refs) == 1)
    # a cancelled job is success here, whatever else the outcome's status would mean
    exit_with(worst(o.code if o.error else ExitCode.OK for o in outcomes))


def retry(
    ctx: typer.Context,
    job: Annotated[
        str | None,
        typer.Argument(metavar="JOB", help="A failed, retryable job.", show_default=False),
    ] = None,
    last: LastOpt = False,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the new job to its end.")] = False,
    timeout: TimeoutOpt = None,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="PATH", help="Also download the new job's result."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a different existing file.")
    ] = False,
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", metavar="K", help="Deduplicate retries.")
    ] = None,
    cancel_on_interrupt: Annotated[
        bool, typer.Option("--cancel-on-interrupt", help="On Ctrl-C, cancel the new job too.")
    ] = False,
) -> None:
    """Retry a failed, retryable job; print the new job's id."""
    state = state_of(ctx)
    ref = job_refs(state, [job] if job else [], last)[0]
    seconds = parse_timeout(timeout, state.settings.timeout if (wait or output) else None)
    dest = output_destination(state, output)
    from .submit import announce, follow_and_save

    async def body(client: AsyncJobsClient) -> int:
        deadline = client.deadline(seconds)  # the retry request and the wait share it
        new = await client.retry(ref, idempotency_key=idempotency_key, timeout=deadline)
        json_at_end = state.options.json and (wait or dest is not None)
        to_stdout = (dest is None or not dest.stdout) and not json_at_end
        announce(state, new, new.type, to_stdout=to_stdout, verb="retried as")
        if not (wait or dest is not None):
            return 0
        return await follow_and_save(
            state, client, new, deadline, "auto", dest, force, cancel_on_interrupt, label=new.type
        )

    exit_with(run_with_client(state, body))
