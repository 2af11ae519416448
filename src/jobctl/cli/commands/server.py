"""``jobctl server``: run the bundled reference server (every flag of ``python -m mock_server``).

The CLI never imports the server: it replaces itself with ``python -m mock_server``
(``os.execv``), so the server keeps this process's id, stdin, stdout, stderr and
signals, and its exit code is the command's.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import typer

from ..exitcodes import CliError, ExitCode

__all__ = ["MISSING", "app", "server", "server_installed"]

MISSING = (
    "the reference server is not installed: in your jobctl checkout, run "
    "pip install -e '.[server]' (not from PyPI: the name jobctl there is another project's)"
)
_NEEDS = ("mock_server", "fastapi", "starlette", "uvicorn", "redis")


def server_installed() -> bool:
    """Whether the reference server and the ``server`` extra can be imported (nothing is)."""
    return all(importlib.util.find_spec(name) is not None for name in _NEEDS)


def server(ctx: typer.Context) -> None:
    """Run the reference server; all arguments go to it (see `jobctl server --help`)."""
    if not server_installed():
        raise CliError(MISSING, ExitCode.USAGE)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "mock_server", *ctx.args])  # noqa: S606


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
