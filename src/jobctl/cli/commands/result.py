"""``jobctl result``: download a completed job's result (resumable, no silent overwrite)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..download import check_destination, plan_destination, save_result
from ._common import DotenvOpt, JunitOpt, job_refs, run_with_client, state_of

if TYPE_CHECKING:
    from ... import AsyncJobsClient

__all__ = ["result"]


def result(
    ctx: typer.Context,
    job: Annotated[
        str | None, typer.Argument(metavar="JOB", help="A completed job.", show_default=False)
    ] = None,
    last: Annotated[
        bool, typer.Option("--last", help="The newest job in the local ledger.")
    ] = False,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="File, directory or - for stdout (default: the server's file name here).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a different existing file.")
    ] = False,
    junit: JunitOpt = None,
    dotenv: DotenvOpt = None,
) -> None:
    """Download a completed job's result; print where it went."""
    state = state_of(ctx)
    from ..ci.session import ci_session
    from ..waiting import Outcome

    ci = ci_session(state, "jobctl result", junit=junit, dotenv=dotenv)  # first: guards stderr
    ref = job_refs(state, [job] if job else [], last)[0]
    dest = plan_destination(output)
    check_destination(dest)
    ci.track([Outcome(ref)])

    async def body(client: AsyncJobsClient) -> None:
        path = await save_result(state, client, ref, dest, force=force)
        if path is not None:
            state.io.write_out(str(path))

    ci.run(lambda: run_with_client(state, body))
