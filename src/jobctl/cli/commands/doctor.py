"""``jobctl doctor``: check an API against the protocol and the pattern's six anti-patterns."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..exitcodes import CliError, ExitCode
from ..text import clean
from ._common import exit_with, state_of

__all__ = ["doctor"]


def doctor(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Argument(
            metavar="URL", help="The API to check (default: --url).", show_default=False
        ),
    ] = None,
    type: Annotated[
        str, typer.Option("--type", metavar="T", help="The job type the checks submit.")
    ] = "sleep",
    input: Annotated[
        str | None,
        typer.Option("--input", "-i", metavar="JSON", help="Its input (default for sleep: 3 s)."),
    ] = None,
    second_token: Annotated[
        str | None,
        typer.Option("--second-token", metavar="T", help="Another user's token (ownership check)."),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", metavar="CHECK", help="Run only this check (repeatable)."),
    ] = None,
) -> None:
    """Check that an API implements the protocol and avoids the pattern's anti-patterns."""
    from ..doctor import CHECKS, Probe, Unreachable, plain_lines, run
    from ..doctor.report import as_json, summary, table
    from ..urls import same_origin, server_key

    state = state_of(ctx)
    settings = state.settings
    names = [name for name, _, _ in CHECKS]
    for name in only or []:
        if name not in names:
            raise CliError(f"--only {clean(name)!r}: no such check; checks: {', '.join(names)}")
    try:
        job_input = json.loads(input) if input is not None else _default_input(type)
    except ValueError:
        raise CliError("-i must be JSON, e.g. -i '{\"seconds\": 3}'") from None
    base = (url or settings.url).strip()
    if not base.lower().startswith(("http://", "https://")):
        raise CliError(f"not a URL: {clean(base[:80])!r} (give http(s)://host)")
    # The token was configured for --url: to another API it goes only when given here.
    token = settings.token
    if url is not None and not same_origin(url, settings.url) and state.options.token is None:
        token = None
    verify = (
        False
        if state.options.insecure
        else (str(state.options.ca_bundle) if state.options.ca_bundle else True)
    )
    probe = Probe(base, token, verify=verify)
    shown = server_key(base)
    try:
        checks = run(
            probe,
            job_type=type,
            job_input=job_input,
            second_token=second_token,
            only=only or (),
        )
    except Unreachable as exc:
        raise CliError(
            f"cannot reach the API at {shown}: {clean(str(exc))}", ExitCode.UNAVAILABLE
        ) from None
    finally:
        probe.close()
    failed = any(c.outcome == "fail" for c in checks)
    if state.options.json:
        state.io.write_out(json.dumps(as_json(shown, checks)))
    elif state.io.stdout_tty:
        state.io.out.print(table(checks))
        state.io.out.print(f"{shown}: {summary(checks)}", highlight=False)
    else:
        for line in plain_lines(checks):
            state.io.write_out(line)
        state.io.write_out(f"{shown}: {summary(checks)}")
    exit_with(ExitCode.FAILED if failed else ExitCode.OK)


def _default_input(job_type: str) -> object:
    return {"seconds": 3, "steps": 6} if job_type == "sleep" else {}
