"""``jobctl demo``: the whole round trip on a fresh install, with no server and no config.

Starts the reference server (``jobctl.testing.ReferenceServer``: a subprocess on
a free loopback port, with a temporary database), submits a ``report`` job,
shows its progress, downloads the file, and prints its path on stdout. It
ignores ``--url``/``--token``/profiles on purpose: it talks only to the server
it started. The server's dashboard (``/``) is up while the demo runs; ``--serve``
keeps the server and its dashboard running after the demo, until Ctrl-C.
"""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Annotated

import typer

from ..download import check_destination, plan_destination
from ..exitcodes import CliError, ExitCode
from ._common import exit_with, state_of
from .server import MISSING, server_installed

if TYPE_CHECKING:
    from ...testing import ReferenceServer

__all__ = ["demo"]


def _serve_until_interrupted(server: ReferenceServer) -> None:
    """Wait while the server runs, until Ctrl-C (which ends the demo normally)."""
    import time

    try:
        while server.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


def demo(
    ctx: typer.Context,
    pages: Annotated[int, typer.Option("--pages", metavar="N", help="Pages in the report.")] = 20,
    format: Annotated[
        str, typer.Option("--format", metavar="pdf|csv|json", help="The report's format.")
    ] = "pdf",
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="PATH", help="Where to save it (default: a new temp dir)."
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve", help="Keep the server and its dashboard running afterwards, until Ctrl-C."
        ),
    ] = False,
) -> None:
    """Start a reference server on loopback, run a report job with progress, download it."""
    state = state_of(ctx)
    if not 1 <= pages <= 10000:
        raise CliError("--pages must be between 1 and 10000")
    if format not in ("pdf", "csv", "json"):
        raise CliError(f"--format {format!r}: use pdf, csv or json")
    target = output if output is not None else tempfile.mkdtemp(prefix="jobctl-demo-") + "/"
    dest = plan_destination(target)
    check_destination(dest)
    if not server_installed():
        raise CliError(MISSING)
    import asyncio

    from ... import AsyncJobsClient
    from ...testing import ReferenceServer
    from ..download import save_result
    from .submit import announce, follow_and_save

    state.hint("starting the reference server ...")
    server = ReferenceServer(args=("--quiet",))
    try:
        server.start()
        state.hint(f"reference server listening on {server.url}")
        state.hint(f"dashboard: {server.url}/ (sign in with the token {server.token})")

        async def body() -> int:
            async with AsyncJobsClient(base_url=server.url, token=server.token) as client:
                job = await client.submit(
                    "report", {"pages": pages, "format": format, "secondsPerPage": 0.1}
                )
                announce(state, job, "report", to_stdout=False, record=False)
                code = await follow_and_save(
                    state,
                    client,
                    job,
                    client.deadline(120.0),
                    "auto",
                    None,
                    False,
                    True,
                    label="report",
                )
                if code != ExitCode.OK:
                    return code
                path = await save_result(state, client, job, dest)
                if path is not None:
                    state.io.write_out(str(path.absolute()))
                return ExitCode.OK

        code = asyncio.run(body())
        if serve and code == ExitCode.OK:
            state.hint(f"serving the dashboard at {server.url}/ until Ctrl-C")
            _serve_until_interrupted(server)
    finally:
        server.stop()
    exit_with(code)
