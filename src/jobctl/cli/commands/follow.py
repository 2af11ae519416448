"""``jobctl wait`` and ``jobctl events``: follow jobs to their end."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ..download import save_result
from ..exitcodes import CliError, ExitCode, code_for_status, worst
from ..inputs import parse_timeout
from ..signals import SignalTrap, exit_code_for_signal, signal_name
from ..text import clean
from ._common import (
    DotenvOpt,
    JobsArg,
    JunitOpt,
    LastOpt,
    Strategy,
    TimeoutOpt,
    check_strategy,
    exit_with,
    job_display,
    job_refs,
    output_destination,
    report_outcomes,
    run_with_client,
    state_of,
)
from .call import HeaderOpt, parse_headers

if TYPE_CHECKING:
    from ... import AsyncJobsClient
    from ...models import JobEvent

__all__ = ["events", "wait"]


def wait(
    ctx: typer.Context,
    jobs: JobsArg = None,
    last: LastOpt = False,
    timeout: TimeoutOpt = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Download results (a directory for several jobs).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite different existing files.")
    ] = False,
    strategy: Strategy = "auto",
    cancel_on_interrupt: Annotated[
        bool, typer.Option("--cancel-on-interrupt", help="On Ctrl-C, cancel the jobs too.")
    ] = False,
    header: HeaderOpt = None,
    junit: JunitOpt = None,
    dotenv: DotenvOpt = None,
) -> None:
    """Follow jobs to a terminal state under one overall deadline, with a progress row each.

    A JOB may also be an operation of any async API: a resume token (`jobctl call`), the
    short name `op-XXXXXXXX` progress lines give it (looked up in the local ledger), or
    a monitor URL of any dialect, mixed freely with job ids.
    """
    state = state_of(ctx)
    from ..ci.session import ci_session

    ci = ci_session(state, "jobctl wait", junit=junit, dotenv=dotenv)  # first: guards stderr
    refs = job_refs(state, jobs, last)
    headers = parse_headers(header)
    seconds = parse_timeout(timeout, state.settings.timeout)
    check_strategy(strategy)
    dest = output_destination(state, output)
    if dest is not None and len(refs) > 1 and (dest.stdout or dest.name is not None):
        raise CliError("-o with several jobs must be a directory")
    from ..waiting import follow_jobs

    async def body(client: AsyncJobsClient) -> int:
        display = job_display(state)
        outcomes = await follow_jobs(
            state,
            client,
            refs,
            deadline=client.deadline(seconds),
            strategy=strategy,
            display=display,
            cancel_on_interrupt=cancel_on_interrupt,
            headers=headers,
        )
        to_stdout = not (dest is not None and dest.stdout)
        code = report_outcomes(state, outcomes, single=len(refs) == 1, stdout=to_stdout)
        if dest is not None:
            for outcome in outcomes:
                if outcome.code == ExitCode.OK and outcome.job is not None:
                    path = await save_result(state, client, outcome.job, dest, force=force)
                    if path is not None:
                        shown = clean(outcome.job_id)
                        state.hint(f"saved the result of {shown} to {clean(str(path))}")
        return code

    exit_with(ci.run(lambda: run_with_client(state, body)))


def events(
    ctx: typer.Context,
    jobs: JobsArg = None,
    last: LastOpt = False,
    every: Annotated[
        bool,
        typer.Option("--all", help="Every job of yours, new ones too, until Ctrl-C (one stream)."),
    ] = False,
    type_: Annotated[
        str | None, typer.Option("--type", metavar="T", help="With --all: only this type.")
    ] = None,
    last_event_id: Annotated[
        str | None,
        typer.Option("--last-event-id", metavar="ID", help="Resume after this event id."),
    ] = None,
    ticket: Annotated[
        bool,
        typer.Option(
            "--ticket",
            help="Print a browser-usable events URL instead (no token in it: a ticket that "
            "opens this job's stream for 60 s, for EventSource).",
        ),
    ] = False,
) -> None:
    """Print jobs' events as they happen until they end (--json: JSON lines).

    Several jobs, or --all, are followed on one multiplexed stream; each line then
    names its job.
    """
    state = state_of(ctx)
    if every and (jobs or last):
        raise CliError("--all follows every job: name no JOB (and no --last)")
    if type_ is not None and not every:
        raise CliError("--type goes with --all")
    refs = [] if every else job_refs(state, jobs, last)
    if last_event_id is not None and ticket:
        raise CliError("--ticket prints a URL; --last-event-id is for following")
    if last_event_id is not None and len(refs) > 1:
        raise CliError("--last-event-id resumes one stream: one JOB, or --all")
    if ticket:
        with state.client() as client:  # one job: its own stream; several or --all: one
            url = client.events_ticket(refs[0] if len(refs) == 1 else refs or None, type=type_)
        if state.options.json:
            import json

            state.io.write_out(json.dumps({"url": url}))
        else:
            state.io.write_out(clean(url))
        state.hint("open it within 60 s (EventSource; curl -H 'Accept: text/event-stream')")
        return
    from ..render import event_json, event_line

    def show(event: JobEvent, named: bool) -> None:
        if state.options.json:
            state.io.write_out(event_json(event))
        else:
            who = event.job_id if named else None
            state.io.write_out(event_line(event, datetime.now(UTC), job_id=who))

    async def follow(client: AsyncJobsClient) -> int:
        if every:
            async for event in client.watch(type=type_, last_event_id=last_event_id):
                show(event, True)
            return 0
        if len(refs) > 1:
            ended = await client.wait_many(refs, on_event=lambda e: show(e, True))
            return int(worst(code_for_status(job.status) for job in ended))
        final: object = None
        async for event in client.events(refs[0], last_event_id=last_event_id):
            show(event, False)
            if event.status is not None:
                final = event.status
        return int(code_for_status(final)) if final is not None else 0

    async def body(client: AsyncJobsClient) -> int:
        import asyncio

        trap = SignalTrap()
        code = 0
        with trap:
            try:
                code = await follow(client)
            except asyncio.CancelledError:
                if not trap.absorb():
                    raise
        if trap.signum is not None:
            if every:  # --all ends only this way: that is its normal end
                raise CliError(
                    f"{signal_name(trap.signum)}: stopped", exit_code_for_signal(trap.signum)
                )
            them = "the job keeps" if len(refs) == 1 else "the jobs keep"
            again = " ".join(clean(r) for r in refs)
            raise CliError(
                f"{signal_name(trap.signum)}: stopped; {them} running; "
                f"follow again with: jobctl events {again}",
                exit_code_for_signal(trap.signum),
            )
        return code

    exit_with(run_with_client(state, body))
