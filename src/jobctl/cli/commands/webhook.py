"""``jobctl webhook verify`` and ``jobctl webhook listen``: check and receive signed deliveries.

Verification is ``jobctl.webhooks.verify_webhook`` (both schemes, key rotation,
timestamp tolerance); this module reads the body and headers, and for
``listen`` runs a small loopback HTTP receiver (stdlib ``http.server``) that
verifies each delivery, prints it, answers 2xx/401, and can forward it.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..exitcodes import CliError, ExitCode
from ._common import state_of

if TYPE_CHECKING:
    from ..state import AppState

__all__ = ["parse_headers", "register"]

webhook_app = typer.Typer(
    name="webhook", help="Verify and receive webhook deliveries.", no_args_is_help=True
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


def register(app: typer.Typer) -> None:
    """Add the ``webhook`` group to the app.

    Args:
        app: the root app.
    """
    app.add_typer(webhook_app, name="webhook", rich_help_panel="Tools")


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


def _summary(event: Any) -> str:
    status = getattr(event.data.status, "value", event.data.status)
    return (
        f"valid {event.scheme} delivery {event.delivery_id or '-'}: "
        f"{event.event} job {event.job_id} ({status})"
    )


def _event_json(event: Any) -> str:
    return json.dumps(event.model_dump(mode="json", by_alias=True, exclude_none=True))


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

    try:
        event = verify_webhook(body, headers, list(secret), tolerance=tolerance)
    except ValueError as exc:
        raise CliError(f"cannot verify: {exc}") from None
    state.io.write_out(_event_json(event) if state.options.json else _summary(event))


class _Receiver(BaseHTTPRequestHandler):
    """Handles one delivery: verify, print, answer, forward."""

    state: AppState
    secrets: list[str]
    tolerance: float
    forward: str | None
    lock: threading.Lock
    count: list[int]

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log (deliveries are printed instead)."""

    def do_POST(self) -> None:
        """Receive one delivery."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 16 * 1024 * 1024))
        headers = {k: v for k, v in self.headers.items()}
        status, line = self._check(body, headers)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with self.lock:
            self.count[0] += 1
            if line.startswith("error:"):
                self.state.io.write_err(line)
            else:
                self.state.io.write_out(line)
        if self.forward and status < 300:
            self._forward(body, headers)

    def _check(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        from ...webhooks import InvalidSignatureError, verify_webhook

        if not self.secrets:
            text = body.decode("utf-8", "replace")
            if self.state.options.json:
                return 200, json.dumps({"verified": False, "body": text})
            return 200, f"unverified delivery (no --secret): {text[:200]}"
        try:
            event = verify_webhook(body, headers, self.secrets, tolerance=self.tolerance)
        except (InvalidSignatureError, ValueError) as exc:
            return 401, f"error: rejected delivery: {exc}"
        return 200, _event_json(event) if self.state.options.json else _summary(event)

    def _forward(self, body: bytes, headers: dict[str, str]) -> None:
        import urllib.request

        assert self.forward is not None
        keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        req = urllib.request.Request(self.forward, data=body, headers=keep, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - http(s) checked
                resp.read()
        except OSError as exc:
            self.state.io.write_err(f"error: forwarding to {self.forward} failed: {exc}")


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
    handler = type(
        "Receiver",
        (_Receiver,),
        {
            "state": state,
            "secrets": list(secret or []),
            "tolerance": tolerance,
            "forward": forward,
            "lock": threading.Lock(),
            "count": [0],
        },
    )
    try:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    httpd.timeout = 0.5
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    state.hint(f"listening for webhook deliveries on {url}")
    if not secret:
        state.hint("warning: no --secret: deliveries are printed but not verified")
    try:
        count: list[int] = handler.count  # type: ignore[attr-defined]
        while max_deliveries is None or count[0] < max_deliveries:
            httpd.handle_request()
    except KeyboardInterrupt:
        raise CliError("stopped listening (interrupted)", ExitCode.INTERRUPTED) from None
    finally:
        httpd.server_close()
