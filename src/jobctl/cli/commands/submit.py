"""``jobctl submit``: submit a job, print its id first, then maybe follow it and save it."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..download import Destination, save_result
from ..exitcodes import CliError, ExitCode
from ..inputs import parse_input, parse_timeout
from ..render import job_json, status_text
from ..signals import SignalTrap, exit_code_for_signal, signal_name
from ..text import clean
from ..waiting import follow_jobs
from ._common import (
    DotenvOpt,
    JunitOpt,
    Strategy,
    TimeoutOpt,
    check_strategy,
    exit_with,
    job_display,
    output_destination,
    report_outcomes,
    state_of,
)

if TYPE_CHECKING:
    from ... import AsyncJobsClient, Deadline
    from ...models import Job
    from ..state import AppState

__all__ = ["announce", "follow_and_save", "submit"]


def submit(
    ctx: typer.Context,
    type: Annotated[str, typer.Argument(metavar="TYPE", help="The job type, e.g. report.")],
    input: Annotated[
        str | None,
        typer.Option("--input", "-i", metavar="JSON|@FILE|-", help="The job input as JSON."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="KEY=VALUE", help="An input field (JSON or text)."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the job to its end.")] = False,
    timeout: TimeoutOpt = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="PATH", help="Also download the result (- for stdout)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a different existing -o file.")
    ] = False,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            metavar="K",
            help="Re-running with the same key resumes the same job.",
        ),
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", metavar="URL", help="POST job events to this URL.")
    ] = None,
    webhook_secret: Annotated[
        str | None, typer.Option("--webhook-secret", metavar="S", help="Sign webhook deliveries.")
    ] = None,
    webhook_event: Annotated[
        list[str] | None,
        typer.Option(
            "--webhook-event", metavar="E", help="completed, failed, progress, cancelled."
        ),
    ] = None,
    priority: Annotated[
        int | None, typer.Option("--priority", metavar="N", help="Job priority.")
    ] = None,
    strategy: Strategy = "auto",
    cancel_on_interrupt: Annotated[
        bool, typer.Option("--cancel-on-interrupt", help="On Ctrl-C, cancel the job too.")
    ] = False,
    junit: JunitOpt = None,
    dotenv: DotenvOpt = None,
) -> None:
    """Submit a job; print its id (stdout) and how to follow it (stderr).

    Give the input as JSON (-i) or one field at a time (-p KEY=VALUE). The
    reference server's job types and their inputs (* = required):

    \b
      sleep   seconds* (a number 0..3600), steps (an integer 1..1000; default 10)
      report  pages* (an integer 1..10000),
              format (one of "pdf", "csv", "json"; default "pdf"),
              secondsPerPage (a number 0..60; default 0.05)
      blob    sizeBytes* (an integer 0..8589934592),
              seed (an integer 0..9223372036854775807; default 0)
      fail    code (a string of 1..100 characters; default "job_failed"),
              message (a string of up to 1000 characters;
                default "the job failed as requested"),
              retryable (true or false; default false),
              afterSeconds (a number 0..3600; default 0)
      flaky   failTimes (an integer 0..1000; default 1),
              seconds (a number 0..3600; default 0)
      echo    any JSON object (the result is the input)

    Example: jobctl submit sleep -p seconds=5 --wait
    """
    state = state_of(ctx)
    if webhook_secret:
        state.command_secrets.append(webhook_secret)
    if junit is not None and not (wait or output is not None):
        raise CliError("--junit needs --wait (or -o): the report says how the job ended")
    from ..ci.session import ci_session

    ci = ci_session(state, f"jobctl submit {type}", junit=junit, dotenv=dotenv)  # guards stderr
    ci.expect(type)
    payload = parse_input(input, param or [], stdin=state.io.stdin)
    seconds = parse_timeout(timeout, state.settings.timeout if (wait or output) else None)
    check_strategy(strategy)
    dest = output_destination(state, output)
    hook: dict[str, Any] | None = None
    if (webhook_secret or webhook_event) and not webhook:
        raise CliError("--webhook-secret and --webhook-event need --webhook URL")
    if webhook:
        hook = {"url": webhook}
        if webhook_secret:
            hook["secret"] = webhook_secret
        if webhook_event:
            hook["events"] = list(webhook_event)

    # A key made here (not in the SDK) can be named if we are interrupted mid-submit.
    key = idempotency_key or f"jobctl-{uuid.uuid4()}"
    prior = state.ledger().find_key(key, state.server) if idempotency_key else None

    async def body(client: AsyncJobsClient) -> int:
        import asyncio

        # --timeout is one deadline for the submit (and its retries) and the wait.
        deadline = client.deadline(seconds)
        trap = SignalTrap()
        with trap:
            try:
                job = await client.submit(
                    type,
                    payload,
                    idempotency_key=key,
                    webhook=hook,
                    priority=priority,
                    timeout=deadline,
                )
            except asyncio.CancelledError:
                if not trap.absorb():
                    raise
                raise CliError(
                    f"{signal_name(trap.signum or 2)}: stopped before the server confirmed the "
                    f"job; re-run the same command with --idempotency-key {key} to resume it "
                    "without making a second one",
                    exit_code_for_signal(trap.signum or 2),
                ) from None
        if prior is not None and prior.job_id != job.job_id:
            state.hint(
                f"note: key {clean(key)} was used for job {clean(prior.job_id)} at {prior.time}; "
                "the server no longer remembers it and made a new job"
            )
        # --json with --wait/-o: the final job document is the one JSON document on stdout.
        json_at_end = state.options.json and (wait or dest is not None)
        to_stdout = (dest is None or not dest.stdout) and not json_at_end
        announce(state, job, type, to_stdout=to_stdout)
        if not (wait or dest is not None):
            from ..waiting import Outcome

            ci.track([Outcome(job, job)])  # outputs and dotenv say which job it is
            return 0
        return await follow_and_save(
            state, client, job, deadline, strategy, dest, force, cancel_on_interrupt, label=type
        )

    from ._common import run_with_client

    exit_with(ci.run(lambda: run_with_client(state, body)))


def announce(
    state: AppState,
    job: Job,
    type: str | None,
    *,
    to_stdout: bool,
    verb: str = "submitted",
    record: bool = True,
) -> None:
    """Print the id (stdout, flushed, before anything else can fail), record it, hint on stderr.

    Args:
        state: the run's state.
        job: the accepted job.
        type: its type.
        to_stdout: print the id (or with --json the job document) on stdout.
        verb: how the hint describes it (``submitted`` / ``retried as``).
        record: add it to the local ledger (``demo`` does not: its server is gone after).
    """
    shown = clean(job.job_id)
    if to_stdout:
        state.io.write_out(job_json(job) if state.options.json else shown)
    if record:
        state.ledger().record(
            job_id=job.job_id,
            status_url=job.status_url,
            base_url=state.server,
            type=type,
            idempotency_key=job.idempotency_key,
        )
    if job.replayed:
        state.hint(f"resumed job {shown}: this idempotency key was already used for it")
    else:
        state.hint(f"{verb} {clean(type or '')} job {shown}".replace("  ", " "))
    if record:
        state.hint(f"follow it with: jobctl wait {shown}")


async def follow_and_save(
    state: AppState,
    client: AsyncJobsClient,
    job: Job,
    deadline: Deadline,
    strategy: str,
    dest: Destination | None,
    force: bool,
    cancel_on_interrupt: bool,
    *,
    label: str | None = None,
) -> int:
    """Follow one job to its end (with progress), then download the result when asked.

    Args:
        state: the run's state.
        client: the async client.
        job: the submitted job.
        deadline: the deadline (shared with the submit that made the job).
        strategy: ``auto``, ``sse`` or ``poll``.
        dest: where to save the result, or None.
        force: overwrite a different existing file.
        cancel_on_interrupt: cancel the job on Ctrl-C.
        label: shown in the live display.

    Returns:
        The exit code.
    """
    display = job_display(state)
    outcomes = await follow_jobs(
        state,
        client,
        [job],
        deadline=deadline,
        strategy=strategy,
        display=display,
        cancel_on_interrupt=cancel_on_interrupt,
        labels={job.job_id: label} if label else None,
    )
    outcome = outcomes[0]
    if dest is None or not dest.stdout:
        code = report_outcomes(state, [outcome], single=True, stdout=state.options.json)
    else:
        code = report_outcomes(state, [outcome], single=True, stdout=False)
    if code == ExitCode.OK and outcome.job is not None:
        state.hint(f"job {clean(outcome.job_id)} {status_text(outcome.job.status)}")
    if code != ExitCode.OK or dest is None or outcome.job is None:
        return code
    path = await save_result(state, client, outcome.job, dest, force=force)
    if path is not None:
        state.hint(f"saved the result to {clean(str(path))}")
    return ExitCode.OK
