"""End to end on loopback: the reference server signs real deliveries, verify_webhook checks
them, and the receiver example in docs/protocol.md runs against one.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobctl.testing import ReferenceServer
from jobctl.webhooks import InvalidSignatureError, verify_webhook

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WHSEC = "whsec_" + base64.b64encode(b"integration-test-key-32-bytes!!!").decode()


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.arrived:
                    outer.deliveries.append((body, dict(self.headers.items())))
                    outer.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[bytes, dict[str, str]]]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server(reference_server_session: ReferenceServer) -> ReferenceServer:
    return reference_server_session


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def submit(server: ReferenceServer, **body: Any) -> str:
    reply = httpx.post(f"{server.url}/api/jobs", json=body, headers=server.headers(), timeout=10)
    assert reply.status_code == 202, reply.text
    job_id: str = reply.json()["jobId"]
    return job_id


@pytest.mark.parametrize("secret", [WHSEC, "a plain shared secret"])
def test_reference_server_deliveries_verify_with_both_schemes(
    server: ReferenceServer, receiver: Receiver, secret: str
) -> None:
    hook = {"url": receiver.url, "secret": secret, "events": ["completed"]}
    job_id = submit(server, type="echo", input={"hello": "world"}, webhook=hook)
    ((body, headers),) = receiver.wait_for(1)
    event = verify_webhook(body, headers, secret)
    assert (event.job_id, event.event, event.scheme) == (job_id, "completed", "standard")
    assert event.data.result_url and event.data.result_url.endswith(f"/{job_id}/result")
    assert event.delivery_id == headers["X-Webhook-Delivery"]
    sha_only = {k: v for k, v in headers.items() if not k.lower().startswith("webhook-")}
    assert verify_webhook(body, sha_only, ["old", secret]).scheme == "sha256"
    with pytest.raises(InvalidSignatureError, match="mismatch"):
        verify_webhook(body, headers, "not-the-secret")
    with pytest.raises(InvalidSignatureError, match="old"):
        verify_webhook(body, headers, secret, now=time.time() + 3600)


def test_docs_receiver_example_runs(server: ReferenceServer, receiver: Receiver) -> None:
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    (example,) = [
        b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "verify_webhook" in b
    ]
    namespace: dict[str, Any] = {}
    exec(compile(example, "docs/protocol.md", "exec"), namespace)  # noqa: S102
    secret = namespace["SECRETS"][1]  # the older secret still passes during rotation
    hook = {"url": receiver.url, "secret": secret, "events": ["completed"]}
    submit(server, type="echo", input={}, webhook=hook)
    ((body, headers),) = receiver.wait_for(1)
    handle = namespace["handle_delivery"]
    assert handle(body, headers) == (200, "ok")
    assert handle(body, headers) == (200, "duplicate, ignored")
    status, text = handle(body.replace(b"completed", b"cancelled", 1), headers)
    assert status == 400 and text.startswith("rejected: signature mismatch")
    assert secret not in text
