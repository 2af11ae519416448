"""``jobctl call``: send one request to any async API and, with ``--wait``, follow the
operation it started (docs/operations.md)."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..exitcodes import CliError, ExitCode
from ..inputs import parse_timeout
from ..text import clean
from ._common import (
    DotenvOpt,
    JunitOpt,
    TimeoutOpt,
    exit_with,
    job_display,
    report_outcomes,
    run_with_client,
    state_of,
)

if TYPE_CHECKING:
    from ... import AsyncJobsClient, Operation
    from ..state import AppState

__all__ = ["call", "parse_data", "parse_headers"]

HeaderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        "-H",
        metavar="'NAME: VALUE'",
        help="A header for every request to the API's own origin (repeatable).",
    ),
]


def parse_headers(values: list[str] | None) -> dict[str, str]:
    """``-H 'Name: value'`` options as a dict (usage error 2 for one without a colon).

    Args:
        values: the option values.
    """
    headers: dict[str, str] = {}
    for raw in values or []:
        name, colon, value = raw.partition(":")
        if (
            not colon
            or not name.strip()
            or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name.strip())
        ):
            raise CliError(f"-H {clean(raw[:60])!r}: a header is 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


def parse_data(data: str | None, stdin: Any) -> tuple[Any, bytes | None]:
    """``-d``: JSON, ``@FILE`` or ``@-``; ``(json, None)`` or ``(None, raw bytes)``.

    A file (or stdin) that holds JSON is sent as JSON; anything else as its bytes.

    Args:
        data: the option value.
        stdin: where ``@-`` reads from.
    """
    if data is None:
        return None, None
    if data.startswith("@"):
        where = data[1:]
        try:
            raw = stdin.buffer.read() if where == "-" else Path(where).read_bytes()
        except OSError as exc:
            raise CliError(f"-d {clean(data[:80])}: {exc.strerror or exc}") from None
        try:
            return json.loads(raw), None
        except (ValueError, RecursionError):
            return None, raw
    try:
        return json.loads(data), None
    except (ValueError, RecursionError):
        raise CliError("-d must be JSON, @FILE or @- (stdin); e.g. -d '{\"pages\": 5}'") from None


def _default_key(state: AppState, method: str, url: str, dialect: str) -> str | None:
    """An Idempotency-Key for a POST/PATCH of our own dialect (or to our own API)."""
    if method.upper() not in ("POST", "PATCH"):
        return None
    ours = dialect == "jobctl" or (
        dialect == "auto"
        and (url.startswith("/api/") or url.startswith(state.server.rstrip("/") + "/api/"))
    )
    return f"jobctl-{uuid.uuid4()}" if ours else None


def call(
    ctx: typer.Context,
    method: Annotated[str, typer.Argument(metavar="METHOD", help="GET, POST, PUT, PATCH, ...")],
    url: Annotated[
        str, typer.Argument(metavar="URL", help="An http(s) URL, or a path relative to --url.")
    ],
    data: Annotated[
        str | None,
        typer.Option("--data", "-d", metavar="JSON|@FILE|@-", help="The request body."),
    ] = None,
    header: HeaderOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the operation to its end.")] = False,
    timeout: TimeoutOpt = None,
    dialect: Annotated[
        str,
        typer.Option(
            "--dialect",
            metavar="auto|jobctl|azure|google|location",
            help="How to follow it (default: read from the answer).",
        ),
    ] = "auto",
    final_state_via: Annotated[
        str | None,
        typer.Option(
            "--final-state-via",
            metavar="RULE",
            help="Azure: location, azure-async-operation, operation-location, original-uri.",
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option("--idempotency-key", metavar="K", help="Makes a POST/PATCH safe to retry."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="PATH", help="Write the final result here (- for stdout)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a different existing -o file.")
    ] = False,
    cancel_on_interrupt: Annotated[
        bool, typer.Option("--cancel-on-interrupt", help="On Ctrl-C, cancel it too.")
    ] = False,
    junit: JunitOpt = None,
    dotenv: DotenvOpt = None,
) -> None:
    """Send one request to any async API; with --wait, follow the operation to its end."""
    state = state_of(ctx)
    if junit is not None and not wait:
        raise CliError("--junit needs --wait: the report says how the operation ended")
    from ..ci.session import ci_session

    ci = ci_session(state, f"jobctl call {method.upper()}", junit=junit, dotenv=dotenv)
    headers = parse_headers(header)
    payload, content = parse_data(data, state.io.stdin)
    seconds = parse_timeout(timeout, state.settings.timeout if wait else None)
    target = _output_path(output, force)
    key = idempotency_key or _default_key(state, method, url, dialect)

    async def body(client: AsyncJobsClient) -> int:
        deadline = client.deadline(seconds)
        op = await client.call(
            method,
            url,
            json=payload,
            content=content,
            headers=headers,
            dialect=dialect,
            final_state_via=final_state_via,
            idempotency_key=key,
            timeout=deadline,
        )
        _record(state, op)
        from ..waiting import Outcome, follow_jobs

        if not wait:
            ci.track([Outcome(op)])
            return _started(state, op)
        display = job_display(state)
        state.resume_args = ("-o", output) if output is not None else ()
        outcomes = await follow_jobs(
            state,
            client,
            [op],
            deadline=deadline,
            display=display,
            cancel_on_interrupt=cancel_on_interrupt,
        )
        outcome = outcomes[0]
        code = report_outcomes(state, outcomes, single=True, stdout=False)
        result = outcome.operation
        if result is None:
            return code
        if state.options.json:
            state.io.write_out(json.dumps(result.to_json()))
        elif result.outcome == "succeeded":
            ci.downloading(outcome.job_id)
            _deliver(state, result, target)
            ci.saved(outcome.job_id, target)
        return code

    exit_with(ci.run(lambda: run_with_client(state, body)))


def _output_path(output: str | None, force: bool) -> Path | None:
    """``-o`` as a file path (None for stdout), checked before anything is sent."""
    if output is None or output == "-":
        return None
    path = Path(output).expanduser()
    if path.is_dir():
        raise CliError(f"-o {clean(output)}: a directory; name the file to write")
    parent = path.parent
    if not parent.is_dir():
        raise CliError(f"-o: directory {clean(str(parent))} does not exist; create it first")
    if path.exists() and path.is_file() and not force:
        raise CliError(f"{clean(output)} exists; use --force to replace it, or -o another path")
    return path


def _deliver(state: AppState, result: Any, target: Path | None) -> None:
    """The final result: to stdout, or atomically into ``-o``'s file."""
    from ..operations import result_bytes

    data = result_bytes(result)
    if target is None:
        out = state.io.stdout_binary
        out.write(data)
        out.flush()
        return
    tmp = target.with_name(f".{target.name}.jobctl-{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    state.hint(f"saved the result to {clean(str(target))}")


def _started(state: AppState, op: Operation) -> int:
    """Without ``--wait``: the resume token on stdout, how to follow it on stderr."""
    token = op.resume_token
    if state.options.json:
        doc = {"resumeToken": token, "dialect": op.dialect, "status": op.status}
        state.io.write_out(json.dumps(doc))
    else:
        state.io.write_out(token)
    done = op.dialect == "done"
    what = "finished with the request" if done else f"started ({clean(op.status or 'running')})"
    state.hint(f"{op.dialect} operation {what}")
    if not done:
        from ..operations import operation_key

        state.hint(
            f"follow it with: jobctl wait {operation_key(token)} "
            "(here; the token on stdout works anywhere)"
        )
    return int(ExitCode.OK)


def _record(state: AppState, op: Operation) -> None:
    from ..operations import operation_key
    from ..urls import server_key

    state.ledger().record(
        job_id=operation_key(op.resume_token),
        status_url=None,
        base_url=server_key(op.url.split("/", 3)[0] + "//" + op.url.split("/", 3)[2]),
        type=f"{op.dialect} {op.method}",
        idempotency_key=dict(op.headers).get("Idempotency-Key"),
        token=op.resume_token,
    )
