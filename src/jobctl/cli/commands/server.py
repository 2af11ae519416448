"""``jobctl server``: run the bundled reference server (every flag of ``python -m mock_server``)."""

from __future__ import annotations

import typer

from ..exitcodes import CliError, ExitCode
from ._common import exit_with

__all__ = ["app", "server"]

_MISSING = "the reference server is not installed; install it with: pip install 'jobctl[server]'"


def server(ctx: typer.Context) -> None:
    """Run the reference server; all arguments go to it (see `jobctl server --help`)."""
    try:
        from mock_server.__main__ import main as server_main
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in ("fastapi", "uvicorn", "starlette", "mock_server", ""):
            raise CliError(_MISSING, ExitCode.USAGE) from None
        raise
    exit_with(server_main(list(ctx.args)))


# Every argument, --help included, goes to the server: click neither parses nor answers them.
app = typer.Typer(add_completion=False)
app.command(
    "server",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
    add_help_option=False,
)(server)
