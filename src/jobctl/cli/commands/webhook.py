"""``jobctl webhook verify`` and ``jobctl webhook listen``: check and receive signed deliveries.

Verification is ``jobctl.webhooks.verify_webhook`` (both schemes, key rotation,
timestamp tolerance); this module reads the body and headers. ``listen`` runs the
loopback receiver of ``jobctl.cli.receiver``, which also says how a verified
delivery prints (imported only when used; it never imports this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exitcodes import CliError
from ._common import state_of

__all__ = ["parse_headers", "webhook_app"]

webhook_app = typer.Typer(
    name="webhook",
    help="Verify and receive webhook deliveries.",
    no_args_is_help=True,
    add_completion=False,
)

SecretOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        metavar="S",
        envvar="JOBCTL_WEBHOOK_SECRET",
        help="The webhook secret (repeat while rotating keys) [env JOBCTL_WEBHOOK_SECRET].",
        show_default=False,
    ),
]


def parse_headers(items: list[str]) -> dict[str, str]:
    """``['Name: value', ...]`` -> a dict; a malformed item is a usage error.

    Args:
        items: the ``--header`` values.
    """
    headers: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise CliError(f"invalid --header {item!r}: use 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


@webhook_app.command("verify")
def verify(
    ctx: typer.Context,
    file: Annotated[
        str, typer.Argument(metavar="FILE|-", help="The raw request body (- for stdin).")
    ] = "-",
    secret: SecretOpt = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", metavar="'Name: value'", help="A request header (repeat)."),
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", metavar="SEC", help="Allowed clock skew in seconds.")
    ] = 300.0,
) -> None:
    """Check a delivery's signature (either scheme): exit 0 valid, 3 invalid."""
    state = state_of(ctx)
    if not secret:
        raise CliError("webhook verify needs --secret S (or JOBCTL_WEBHOOK_SECRET)")
    headers = parse_headers(header or [])
    if file == "-":
        body = state.io.stdin.read().encode()
    else:
        try:
            body = Path(file).read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    from ...webhooks import verify_webhook
    from ..receiver import event_json, summary

    try:
        event = verify_webhook(body, headers, list(secret), tolerance=tolerance)
    except ValueError as exc:
        raise CliError(f"cannot verify: {exc}") from None
    state.io.write_out(event_json(event) if state.options.json else summary(event))


@webhook_app.command("listen")
def listen(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", metavar="P", help="Port on 127.0.0.1 (0: any free one).")
    ] = 0,
    secret: SecretOpt = None,
    forward: Annotated[
        str | None,
        typer.Option("--forward", metavar="URL", help="Also POST each valid delivery here."),
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tolerance", metavar="SEC", help="Allowed clock skew in seconds.")
    ] = 300.0,
    max_deliveries: Annotated[
        int | None, typer.Option("--max", metavar="N", help="Stop after N deliveries.")
    ] = None,
) -> None:
    """Receive deliveries on loopback, verify and print them (--json: JSON lines)."""
    state = state_of(ctx)
    if forward and not forward.startswith(("http://", "https://")):
        raise CliError(f"--forward {forward!r}: must be an http:// or https:// URL")
    from ..receiver import serve

    serve(
        state,
        port=port,
        secrets=list(secret or []),
        tolerance=tolerance,
        forward=forward,
        max_deliveries=max_deliveries,
    )
