"""``jobctl status JOB`` without Typer: the plain forms of a one-shot command, parsed by hand.

``jobctl status`` is what scripts call in loops, and Typer costs it about 150 ms
before the request (importing Typer, building the click tree, and converting
option values with pydantic). ``run_fast`` recognises the plain forms of the
command (global options before or after it, ``--last``, one JOB) and runs the
same body the Typer command runs (``show_status``) with the same state, error
lines and exit codes. Anything else (a typo, ``--``, combined short flags, an
option without its value, a bad ``--progress``, ``--help``) returns None and goes
to Typer, which gives its usual answer: this module never makes a usage error.

The body runs on the synchronous ``JobsClient``: one request needs no event loop.
Pydantic's plugin discovery is switched off for this process (see ``run_fast``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .state import AppState, GlobalOptions

__all__ = ["job_refs", "parse_status", "run_fast", "show_status"]

_VALUE_OPTIONS = {
    "--url": "url",
    "--token": "token",
    "--profile": "profile",
    "--progress": "progress",
    "--ca-bundle": "ca_bundle",
}
_FLAGS = {
    "--json": "json",
    "--quiet": "quiet",
    "-q": "quiet",
    "--verbose": "verbose",
    "-v": "verbose",
    "--insecure": "insecure",
}
_PROGRESS = ("auto", "bar", "plain", "none")


def parse_status(args: Sequence[str]) -> tuple[GlobalOptions, str | None, bool] | None:
    """``(options, JOB, --last)`` for a plain ``jobctl ... status ...``, else None.

    Accepts exactly what click would accept the same way: the global options
    (``--url U`` or ``--url=U``; flags), the word ``status``, ``--last`` after it,
    and at most one JOB that is not empty and does not start with ``-``.

    Args:
        args: the command-line arguments (without the program name).
    """
    values: dict[str, Any] = {}
    command_seen = False
    job: str | None = None
    last = False
    i = 0
    while i < len(args):
        arg = args[i]
        name, _, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _VALUE_OPTIONS:
            if "=" in arg:
                value = inline
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                return None
            if not value or value.startswith("-"):
                return None
            values[_VALUE_OPTIONS[name]] = value
        elif arg in _FLAGS:
            values[_FLAGS[arg]] = True
        elif arg == "--last" and command_seen:
            last = True
        elif not command_seen and arg == "status":
            command_seen = True
        elif command_seen and job is None and arg and not arg.startswith("-"):
            job = arg
        else:
            return None
        i += 1
    if not command_seen or (job is None and not last):
        return None
    if values.get("progress", "auto") not in _PROGRESS:
        return None
    if "ca_bundle" in values:
        values["ca_bundle"] = Path(values["ca_bundle"])
    return GlobalOptions(**values), job, last


def job_refs(state: AppState, jobs: Sequence[str] | None, last: bool) -> list[str]:
    """JOB arguments with ``--last`` resolved from the ledger.

    Args:
        state: the run's state.
        jobs: the JOB arguments.
        last: whether ``--last`` was given.
    """
    from .inputs import resolve_job_refs

    newest = None
    if last:
        entry = state.ledger().last()
        newest = (entry.status_url or entry.job_id) if entry else None
    return resolve_job_refs(list(jobs or []), last=last, newest=newest)


def show_status(state: AppState, job: str | None, last: bool) -> None:
    """The body of ``jobctl status``: one snapshot on stdout (``--json``, ``-q`` or lines).

    Args:
        state: the run's state.
        job: the JOB argument.
        last: whether ``--last`` was given.
    """
    ref = job_refs(state, [job] if job else [], last)[0]
    with state.client() as client:
        snapshot = client.get(ref)
    from .render import job_summary, status_text, to_jsonable

    if state.options.json:
        state.io.write_out(json.dumps(to_jsonable(snapshot)))
    elif state.options.quiet:
        state.io.write_out(status_text(snapshot.status))
    else:
        for line in job_summary(snapshot):
            state.io.write_out(line)


def run_fast(args: Sequence[str]) -> int | None:
    """Run a plain ``jobctl status`` and return its exit code; None when Typer must run it.

    Args:
        args: the command-line arguments (without the program name).
    """
    if os.environ.get("_JOBCTL_COMPLETE"):
        return None  # shell completion is click's
    parsed = parse_status(args)
    if parsed is None:
        return None
    from .failure import report_error, silence_stdout
    from .io import IOStreams

    options, job, last = parsed
    # pydantic looks for plugins in every installed distribution's entry points when it
    # builds the first model (40 ms in a full environment); a one-shot command's
    # models have no use for them. An explicit setting is respected.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    state = AppState(options, IOStreams.system())
    try:
        show_status(state, job, last)
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return 0
    except (Exception, KeyboardInterrupt) as exc:
        return report_error(exc, state, verbose=options.verbose)
    return 0
