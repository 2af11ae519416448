"""``jobctl status``: one status snapshot of a job.

What scripts call in loops, so it imports only what it uses: the synchronous
client (one request needs no event loop), the plain renderers of ``render.py``
(no rich), and no other command's module.
"""

from __future__ import annotations

import json

import typer

from ._common import JobArg, LastOpt, job_refs, state_of

__all__ = ["status"]


def status(
    ctx: typer.Context,
    job: JobArg = None,
    last: LastOpt = False,
) -> None:
    """Show one status snapshot of a job (exit 0 whatever its state)."""
    state = state_of(ctx)
    ref = job_refs(state, [job] if job else [], last)[0]
    with state.client() as client:
        snapshot = client.get(ref)
    from ..render import job_summary, status_text, to_jsonable

    if state.options.json:
        state.io.write_out(json.dumps(to_jsonable(snapshot)))
    elif state.options.quiet:
        state.io.write_out(status_text(snapshot.status))
    else:
        for line in job_summary(snapshot):
            state.io.write_out(line)
