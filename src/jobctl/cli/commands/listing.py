"""``jobctl list``: the caller's jobs, newest first, as a table or JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ..exitcodes import CliError
from ._common import exit_with, run_with_client, state_of

__all__ = ["list_jobs"]


def list_jobs(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", metavar="S", help="Only jobs in this state (repeatable)."),
    ] = None,
    type: Annotated[
        str | None, typer.Option("--type", metavar="T", help="Only this job type.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", help="Jobs per page (1-100).")] = 20,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Every page, not just the first.")
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="Keep the list live from one event stream until Ctrl-C (rows change in "
            "place on a terminal; one line per change off it, or JSON lines with --json).",
        ),
    ] = False,
) -> None:
    """List jobs, newest first (a table, or --json)."""
    state = state_of(ctx)
    if not 1 <= limit <= 100:
        raise CliError(f"--limit {limit}: must be between 1 and 100")
    statuses = list(status or []) or None
    if watch:
        if all_pages:
            raise CliError("--watch keeps one page live: no --all with it")
        from ..watchlist import watch_jobs

        exit_with(
            run_with_client(
                state, lambda client: watch_jobs(state, client, statuses, type=type, limit=limit)
            )
        )
        return

    from ..render import jobs_table, to_jsonable
    from ..text import clean

    total: int
    next_offset: int | None
    with state.client() as client:  # one-shot: the sync client, no event loop
        if all_pages:
            jobs = list(client.iter_jobs(status=statuses, type=type, limit=limit))
            total, next_offset = len(jobs), None
        else:
            page = client.list(status=statuses, type=type, limit=limit)
            jobs, total, next_offset = list(page.jobs), page.total, page.next_offset
    if state.options.json:
        doc: dict[str, Any] = {
            "jobs": [to_jsonable(j) for j in jobs],
            "total": total,
            "nextOffset": next_offset,
        }
        state.io.write_out(json.dumps(doc))
        return
    if state.options.quiet:
        for job in jobs:
            state.io.write_out(clean(job.job_id))
        return
    if not jobs:
        state.hint("no jobs")
        return
    state.io.out.print(jobs_table(jobs))
    if next_offset is not None:
        state.hint(f"showing {len(jobs)} of {total}; use --all for every page")
