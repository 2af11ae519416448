"""The command table: every jobctl command, the module it lives in, and its one-line help.

``jobctl --help`` lists the commands from this table, so listing them imports
none of their modules; the root group (``jobctl.cli.root.JobctlGroup``) imports
a command's module the first time that command is run or its help is shown.
``attr`` names either a function (Typer makes it a command) or a ``typer.Typer``
(a group such as ``config``, or a command with its own settings such as
``server``). A test checks that each ``help`` is the first paragraph of the
command's own help.

To add a command: write ``commands/NAME.py`` with the function (its options are
``Annotated`` Typer parameters, its first parameter ``ctx: typer.Context``),
add a row here, and regenerate ``docs/cli.md`` and ``completions/``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BY_NAME", "COMMANDS", "PANELS", "Entry"]

PANELS = ("Job commands", "Tools")
"""The sections of ``jobctl --help``, in order."""


@dataclass(frozen=True)
class Entry:
    """One row of the table.

    Args:
        name: the command's name.
        module: its module in this package.
        attr: the function or ``typer.Typer`` in that module.
        help: the line ``jobctl --help`` shows for it.
        panel: the section of ``jobctl --help`` it is listed in (one of ``PANELS``).
    """

    name: str
    module: str
    attr: str
    help: str
    panel: str


_JOBS, _TOOLS = PANELS

COMMANDS: tuple[Entry, ...] = (
    Entry(
        "submit",
        "submit",
        "submit",
        "Submit a job; print its id (stdout) and how to follow it (stderr).",
        _JOBS,
    ),
    Entry(
        "call",
        "call",
        "call",
        "Send one request to any async API; with --wait, follow the operation to its end.",
        _JOBS,
    ),
    Entry(
        "status",
        "status",
        "status",
        "Show one status snapshot of a job (exit 0 whatever its state).",
        _JOBS,
    ),
    Entry(
        "wait",
        "follow",
        "wait",
        "Follow jobs to a terminal state under one overall deadline, with a progress row each.",
        _JOBS,
    ),
    Entry(
        "events",
        "follow",
        "events",
        "Print jobs' events as they happen until they end (--json: JSON lines).",
        _JOBS,
    ),
    Entry(
        "cancel",
        "manage",
        "cancel",
        "Cancel jobs (a cancelled job is success here: exit 0).",
        _JOBS,
    ),
    Entry(
        "retry", "manage", "retry", "Retry a failed, retryable job; print the new job's id.", _JOBS
    ),
    Entry("list", "listing", "list_jobs", "List jobs, newest first (a table, or --json).", _JOBS),
    Entry(
        "result",
        "result",
        "result",
        "Download a completed job's result; print where it went.",
        _JOBS,
    ),
    Entry(
        "doctor",
        "doctor",
        "doctor",
        "Check that an API implements the protocol and avoids the pattern's anti-patterns.",
        _TOOLS,
    ),
    Entry(
        "demo",
        "demo",
        "demo",
        "Start a reference server on loopback, run a report job with progress, download it.",
        _TOOLS,
    ),
    Entry(
        "server",
        "server",
        "app",
        "Run the reference server; all arguments go to it (see `jobctl server --help`).",
        _TOOLS,
    ),
    Entry(
        "config",
        "config_cmd",
        "config_app",
        "Read and edit the config file (keys: url, token, progress, timeout).",
        _TOOLS,
    ),
    Entry("webhook", "webhook", "webhook_app", "Verify and receive webhook deliveries.", _TOOLS),
    Entry("completion", "completion", "completion", "Print the shell completion script.", _TOOLS),
)
"""Every command, in the order ``jobctl --help`` lists them."""

BY_NAME: dict[str, Entry] = {entry.name: entry for entry in COMMANDS}
