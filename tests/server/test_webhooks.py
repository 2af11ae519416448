"""Webhooks received by a real local HTTP receiver, verified with the standardwebhooks package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook

from jobctl.testing import ReferenceServer

from .conftest import STORES, assert_problem, client, store_server, wait_terminal

pytestmark = pytest.mark.integration


Received = tuple[dict[str, str], bytes, int]


@dataclass
class Receiver:
    """A loopback HTTP server recording POSTs; answers the queued statuses, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    url: str = ""

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.received) >= count, timeout=timeout)
            assert ok, f"only {len(self.received)} of {count} deliveries arrived"
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with rec.cond:
                status = rec.statuses.pop(0) if rec.statuses else 200
                rec.received.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                rec.cond.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield rec
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module", params=STORES)
def srv(request: pytest.FixtureRequest) -> Iterator[ReferenceServer]:
    args = ("--quiet", "--webhook-backoff", "0.05", "--webhook-attempts", "3")
    with store_server(request, args=args) as s:
        yield s


def test_signed_deliveries_verify_with_both_schemes(
    srv: ReferenceServer, receiver: Receiver
) -> None:
    secret = "whsec_" + base64.b64encode(b"a-32-byte-secret-for-the-tests!!").decode()
    hook = {"url": receiver.url, "secret": secret, "events": ["progress", "completed"]}
    with client(srv) as c:
        r = c.post(
            "/api/jobs",
            json={"type": "sleep", "input": {"seconds": 0.2, "steps": 2}, "webhook": hook},
        )
        job = r.json()["jobId"]
        wait_terminal(c, job)
    got = receiver.wait_for(3)
    events = [json.loads(body)["event"] for _, body, _ in got]
    assert sorted(events) == ["completed", "progress", "progress"]
    ids = set()
    for headers, body, _ in got:
        payload = Webhook(secret).verify(body, headers)  # independent implementation
        assert payload["jobId"] == job
        assert headers["content-type"] == "application/json"
        assert headers["x-webhook-event"] == payload["event"]
        assert headers["webhook-id"] == headers["x-webhook-delivery"]
        ids.add(headers["x-webhook-delivery"])
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-webhook-signature"] == f"sha256={expected}"
        assert payload["timestamp"].endswith("Z")
    assert len(ids) == 3
    done = next(json.loads(b) for _, b, _ in got if json.loads(b)["event"] == "completed")
    assert done["data"]["status"] == "completed"
    assert done["data"]["resultUrl"].endswith(f"/api/jobs/{job}/result")
    progress = next(json.loads(b) for _, b, _ in got if json.loads(b)["event"] == "progress")
    assert progress["data"]["progress"]["total"] == 2


def test_plain_secret_callback_url_and_failed_job(srv: ReferenceServer, receiver: Receiver) -> None:
    with client(srv) as c:
        hook = {"url": receiver.url, "secret": "plain-secret"}
        c.post(
            "/api/jobs",
            json={"type": "fail", "input": {"code": "E9", "retryable": True}, "webhook": hook},
        )
        got = receiver.wait_for(1)
        headers, body, _ = got[0]
        payload = Webhook(b"plain-secret").verify(body, headers)  # key = the UTF-8 bytes
        assert payload["event"] == "failed"
        assert payload["data"]["error"]["code"] == "E9"
        c.post("/api/jobs", json={"type": "echo", "input": {}, "callbackUrl": receiver.url})
        headers, body, _ = receiver.wait_for(2)[1]
        assert json.loads(body)["event"] == "completed"
        assert "x-webhook-signature" not in headers and "webhook-signature" not in headers


def test_5xx_is_retried_with_the_same_delivery_id(srv: ReferenceServer, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    with client(srv) as c:
        c.post("/api/jobs", json={"type": "echo", "input": {}, "callbackUrl": receiver.url})
    got = receiver.wait_for(3)
    assert [status for _, _, status in got] == [500, 503, 200]
    assert len({h["x-webhook-delivery"] for h, _, _ in got}) == 1


def test_4xx_is_final_listed_as_failed_and_redelivered(
    srv: ReferenceServer, receiver: Receiver
) -> None:
    receiver.statuses = [410]
    with client(srv) as c:
        job = c.post(
            "/api/jobs", json={"type": "echo", "input": {}, "callbackUrl": receiver.url}
        ).json()["jobId"]
    first = receiver.wait_for(1)
    delivery_id = first[0][0]["x-webhook-delivery"]
    with client(srv, "admin") as admin:
        failed: dict[str, Any] = {}
        for _ in range(200):  # the receiver answered; the server records it right after
            items = admin.get("/api/webhooks/failed").json()["deliveries"]
            failed = next((d for d in items if d["deliveryId"] == delivery_id), {})
            if failed:
                break
            admin.get(f"/api/jobs/{job}", params={"wait": 0.05})
        assert failed["attempts"] == 1 and failed["lastStatus"] == 410
        assert failed["jobId"] == job and failed["state"] == "failed"
        assert "secret" not in json.dumps(failed)
        r = admin.post(f"/api/webhooks/failed/{delivery_id}/redeliver")
        assert r.status_code == 202 and r.json()["deliveryId"] == delivery_id
        again = receiver.wait_for(2)
        assert again[1][0]["x-webhook-delivery"] == delivery_id and again[1][2] == 200
        assert_problem(admin.post("/api/webhooks/failed/dlv_nope/redeliver"), 404)


def test_unreachable_receiver_ends_in_the_failed_list(srv: ReferenceServer) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/nobody"
    with client(srv) as c:
        job = c.post("/api/jobs", json={"type": "echo", "input": {}, "callbackUrl": dead}).json()[
            "jobId"
        ]
        wait_terminal(c, job)
    with client(srv, "admin") as admin:
        mine: list[dict[str, Any]] = []
        for _ in range(400):
            items = admin.get("/api/webhooks/failed").json()["deliveries"]
            mine = [d for d in items if d["jobId"] == job]
            if mine:
                break
            admin.get(f"/api/jobs/{job}", params={"wait": 0.05})
        assert mine and mine[0]["attempts"] == 3 and mine[0]["lastStatus"] is None
        assert mine[0]["lastError"]


def test_webhook_hosts_beyond_loopback_need_allow() -> None:
    hook = {"type": "echo", "input": {}, "callbackUrl": "http://hooks.example.test/x"}
    server = ReferenceServer(args=("--quiet", "--webhook-allow", "hooks.example.test"))
    with server as s, client(s) as c:
        assert c.post("/api/jobs", json=hook).status_code == 202
        other = dict(hook, callbackUrl="http://10.0.0.1/x")
        assert_problem(c.post("/api/jobs", json=other), 400)


def test_pending_deliveries_survive_a_crash(receiver: Receiver) -> None:
    receiver.statuses = [500]
    args = ("--quiet", "--webhook-backoff", "600")  # the retry would come only after 10 min
    with ReferenceServer(args=args) as s:
        with client(s) as c:
            c.post("/api/jobs", json={"type": "echo", "input": {}, "callbackUrl": receiver.url})
        first = receiver.wait_for(1)
        s.kill()
        s.start()  # pending deliveries resume at start-up, with the same delivery id
        second = receiver.wait_for(2)
    assert second[1][2] == 200
    assert second[1][0]["x-webhook-delivery"] == first[0][0]["x-webhook-delivery"]
