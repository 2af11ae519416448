"""Webhooks under attack: replayed (stale), forged (wrong secret) and tampered (one byte)
deliveries are rejected by ``verify_webhook`` and by a running ``jobctl webhook listen``;
correct ones pass, also while two secrets are in rotation; and the reference server's own
signed deliveries get through the real listener.

Signatures are made independently of ``jobctl.webhooks``: the Standard Webhooks scheme
with the ``standardwebhooks`` package, ``X-Webhook-Signature`` with ``hmac`` directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from jobctl.testing import ReferenceServer
from jobctl.webhooks import InvalidSignatureError, verify_webhook

from .support import Listener

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

OLD = "whsec_" + base64.b64encode(b"old-secret-key-for-chaos-tests!!").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-key-for-chaos-tests!!").decode()
WRONG = "whsec_" + base64.b64encode(b"attacker-guessed-this-key-000000").decode()
PLAIN = "plain-text-webhook-secret-41"


@dataclass(frozen=True)
class Delivery:
    """A delivery to send, and whether a receiver holding OLD+NEW (or PLAIN) must accept it."""

    name: str
    body: bytes
    headers: dict[str, str]
    valid: bool


def _body(now: float, job: str = "j1") -> bytes:
    stamp = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    doc = {"event": "completed", "jobId": job, "timestamp": stamp, "data": {"status": "completed"}}
    return json.dumps(doc).encode()


def standard(body: bytes, secret: str, stamp: float, msg_id: str | None = None) -> dict[str, str]:
    """Standard Webhooks headers, signed by the standardwebhooks package."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(stamp)), "webhook-signature": sig}


def legacy(body: bytes, secret: str) -> dict[str, str]:
    """``X-Webhook-Signature: sha256=<hex>`` over the raw body with the secret's bytes."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Webhook-Signature": f"sha256={digest}", "X-Webhook-Delivery": uuid.uuid4().hex}


def flip(body: bytes) -> bytes:
    """The body with one byte changed."""
    i = body.index(b"completed") + 1
    return body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]


def deliveries(now: float) -> list[Delivery]:
    """Every case once; receivers hold the secrets [OLD, NEW] (and PLAIN for sha256=)."""
    fresh, stale, future = _body(now), _body(now - 3600), _body(now + 3600)
    signed_old = standard(fresh, OLD, now)
    return [
        Delivery("valid, old key", fresh, signed_old, True),
        Delivery("valid, new key (rotation)", fresh, standard(fresh, NEW, now), True),
        Delivery("valid, sha256= scheme", fresh, legacy(fresh, PLAIN), True),
        Delivery("replayed an hour later", fresh, standard(fresh, OLD, now - 3600), False),
        Delivery("timestamp an hour ahead", fresh, standard(fresh, OLD, now + 3600), False),
        Delivery("replayed sha256= with a stale body", stale, legacy(stale, PLAIN), False),
        Delivery("sha256= with a future body", future, legacy(future, PLAIN), False),
        Delivery("wrong secret", fresh, standard(fresh, WRONG, now), False),
        Delivery("wrong secret, sha256=", fresh, legacy(fresh, "not-" + PLAIN), False),
        Delivery("body changed by one byte", flip(fresh), signed_old, False),
        Delivery("sha256= body changed by one byte", flip(fresh), legacy(fresh, PLAIN), False),
        Delivery(
            "signature of another delivery id", fresh, {**signed_old, "webhook-id": "msg_x"}, False
        ),
        Delivery("no signature at all", fresh, {"webhook-id": "msg_y"}, False),
        Delivery("garbage signature", fresh, {**signed_old, "webhook-signature": "v1,!!!"}, False),
    ]


SIZES = [
    pytest.param(1, id="ci-1round"),
    pytest.param(40, id="big-40rounds", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("rounds", SIZES)
def test_verify_webhook_rejects_every_forgery(rounds: int) -> None:
    now = 1_800_000_000.0
    for r in range(rounds):
        for d in deliveries(now + r):
            secrets = [OLD, NEW] if "webhook-signature" in d.headers else [PLAIN]
            if d.valid:
                event = verify_webhook(d.body, d.headers, secrets, now=now + r)
                assert event.job_id == "j1" and event.event == "completed"
            else:
                with pytest.raises(InvalidSignatureError) as caught:
                    verify_webhook(d.body, d.headers, secrets, now=now + r)
                text = str(caught.value) + repr(caught.value)
                assert all(s not in text for s in (OLD, NEW, WRONG, PLAIN)), text


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    lis = Listener(tmp_path, [OLD, NEW])
    yield lis
    if lis.proc.poll() is None:
        lis.stop()


@pytest.mark.parametrize("rounds", SIZES)
def test_webhook_listen_rejects_every_forgery(tmp_path: Path, rounds: int) -> None:
    for secrets in ([OLD, NEW], [PLAIN]):
        lis = Listener(tmp_path, secrets)
        try:
            expected_ok = expected_bad = 0
            with httpx.Client(timeout=10) as http:
                for _ in range(rounds):
                    for d in deliveries(time.time()):
                        standard_case = "webhook-signature" in d.headers
                        if standard_case != (secrets == [OLD, NEW]):
                            continue
                        r = http.post(lis.url, content=d.body, headers=d.headers)
                        assert r.status_code == (200 if d.valid else 401), (d.name, r.status_code)
                        expected_ok += d.valid
                        expected_bad += not d.valid
            # each line is printed just after the answer: wait for all before stopping
            deadline = time.monotonic() + 30
            while len(lis.out) + sum("rejected" in x for x in lis.err) < expected_ok + expected_bad:
                assert time.monotonic() < deadline, (lis.out, lis.err)
                time.sleep(0.02)
        finally:
            out, err = lis.stop()
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert len(events) == expected_ok and all(e["jobId"] == "j1" for e in events), out
        assert err.count("error: rejected delivery") == expected_bad > 0, err
        assert "Traceback" not in out + err
        assert all(s not in out + err for s in (OLD, NEW, WRONG, PLAIN))


def test_the_reference_servers_deliveries_pass_the_real_listener(
    tmp_path: Path, listener: Listener
) -> None:
    """A job's signed deliveries arrive and verify; one signed with a stale key is refused
    and ends in the server's failed-delivery list."""
    assert listener.url.startswith("http://127.0.0.1:")
    server = ReferenceServer(args=("--quiet", "--webhook-attempts", "1"))
    with server, httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as c:
        good = c.post(
            "/api/jobs",
            json={"type": "echo", "input": {}, "webhook": {"url": listener.url, "secret": NEW}},
        ).json()["jobId"]
        bad = c.post(
            "/api/jobs",
            json={
                "type": "echo",
                "input": {},
                "webhook": {"url": listener.url, "secret": WRONG},
            },
        ).json()["jobId"]
        admin = {"Authorization": f"Bearer {server.admin_token}"}
        deadline = time.monotonic() + 30
        failed: list[dict[str, object]] = []
        while not (failed and any(good in line for line in listener.out)):
            assert time.monotonic() < deadline, (failed, listener.out)
            failed = c.get("/api/webhooks/failed", headers=admin).json()["deliveries"]
            time.sleep(0.1)
        assert [d["jobId"] for d in failed] == [bad] and failed[0]["lastStatus"] == 401
    out, err = listener.stop()
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [e["jobId"] for e in events] == [good], out
    assert "error: rejected delivery" in err and bad not in out
    assert all(s not in out + err for s in (OLD, NEW, WRONG))
