"""The loopback receiver behind ``jobctl webhook listen`` (stdlib ``http.server``).

Binds 127.0.0.1 only. Each POST is verified with ``jobctl.webhooks.verify_webhook``
when secrets are given, printed (stdout; JSON lines with ``--json``; rejections as
``error:`` lines on stderr), answered 200 or 401, and, when valid, forwarded to
``--forward`` with its original headers. It also says how a verified delivery
prints (``summary``, ``event_json``), which ``webhook verify`` shares: the command
module imports this one (lazily), never the other way round.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .exitcodes import CliError, ExitCode
from .text import clean

if TYPE_CHECKING:
    from .state import AppState

__all__ = ["event_json", "serve", "summary"]


def summary(event: Any) -> str:
    """One human line for a verified delivery.

    Args:
        event: the ``WebhookEvent``.
    """
    status = getattr(event.data.status, "value", event.data.status)
    return clean(
        f"valid {event.scheme} delivery {event.delivery_id or '-'}: "
        f"{event.event} job {event.job_id} ({status})"
    )


def event_json(event: Any) -> str:
    """A verified delivery as one line of JSON.

    Args:
        event: the ``WebhookEvent``.
    """
    return json.dumps(event.model_dump(mode="json", by_alias=True, exclude_none=True))


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
            if line.startswith("error:"):
                self.state.io.write_err(line)
            else:
                self.state.io.write_out(line)
        try:
            if self.forward and status < 300:
                self._forward(body, headers)
        finally:
            # Counted only once forwarded: --max must not exit while a forward is under way.
            with self.lock:
                self.count[0] += 1

    def _check(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        from ..webhooks import InvalidSignatureError, verify_webhook

        if not self.secrets:
            text = body.decode("utf-8", "replace")
            if self.state.options.json:
                return 200, json.dumps({"verified": False, "body": text})
            return 200, f"unverified delivery (no --secret): {clean(text[:200])}"
        try:
            event = verify_webhook(body, headers, self.secrets, tolerance=self.tolerance)
        except (InvalidSignatureError, ValueError) as exc:
            return 401, f"error: rejected delivery: {clean(str(exc))}"
        return 200, event_json(event) if self.state.options.json else summary(event)

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


def serve(
    state: AppState,
    *,
    port: int,
    secrets: list[str],
    tolerance: float,
    forward: str | None,
    max_deliveries: int | None,
) -> None:
    """Receive deliveries on 127.0.0.1:``port`` until interrupted (or ``max_deliveries``).

    Args:
        state: the run's state (output streams, ``--json``).
        port: the port (0: any free one; the URL is printed on stderr).
        secrets: webhook secrets to verify with (none: print unverified).
        tolerance: allowed clock skew in seconds.
        forward: also POST each valid delivery here.
        max_deliveries: stop after this many deliveries.

    Raises:
        CliError: the port cannot be bound (2), or Ctrl-C (130).
    """
    count = [0]
    handler = type(
        "Receiver",
        (_Receiver,),
        {
            "state": state,
            "secrets": secrets,
            "tolerance": tolerance,
            "forward": forward,
            "lock": threading.Lock(),
            "count": count,
        },
    )
    try:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    httpd.timeout = 0.5
    state.hint(f"listening for webhook deliveries on http://127.0.0.1:{httpd.server_address[1]}/")
    if not secrets:
        state.hint("warning: no --secret: deliveries are printed but not verified")
    try:
        while max_deliveries is None or count[0] < max_deliveries:
            httpd.handle_request()
    except KeyboardInterrupt:
        raise CliError("stopped listening (interrupted)", ExitCode.INTERRUPTED) from None
    finally:
        httpd.server_close()
