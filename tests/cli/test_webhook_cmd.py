"""``jobctl webhook verify`` (exit 0 / 3) and ``webhook listen`` (a real loopback receiver)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from jobctl.cli.root import app
from jobctl.webhooks import sign_webhook

runner = CliRunner()
SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQ="


def delivery(now: float | None = None) -> tuple[bytes, dict[str, str]]:
    stamp = int(now if now is not None else time.time())
    body = json.dumps(
        {
            "event": "completed",
            "jobId": "job-1",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)),
            "data": {"status": "completed", "resultUrl": "/api/jobs/job-1/result"},
        }
    ).encode()
    headers = sign_webhook(body, SECRET, msg_id="msg_1", timestamp=stamp)
    return body, headers


def header_args(headers: dict[str, str]) -> list[str]:
    return [arg for k, v in headers.items() for arg in ("--header", f"{k}: {v}")]


def test_verify_valid_from_file_and_stdin(tmp_path: Path) -> None:
    body, headers = delivery()
    f = tmp_path / "body.json"
    f.write_bytes(body)
    r = runner.invoke(app, ["webhook", "verify", "--secret", SECRET, *header_args(headers), str(f)])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("valid standard delivery msg_1: completed job job-1")
    r = runner.invoke(
        app,
        ["webhook", "verify", "--json", "--secret", SECRET, *header_args(headers), "-"],
        input=body.decode(),
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["jobId"] == "job-1"


def test_verify_sha256_scheme_alone() -> None:
    body, headers = delivery()
    only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    r = runner.invoke(
        app, ["webhook", "verify", "--secret", SECRET, *header_args(only)], input=body.decode()
    )
    assert r.exit_code == 0 and "valid sha256 delivery" in r.stdout


@pytest.mark.parametrize(
    ("secret", "tamper", "now_offset", "needle"),
    [
        ("wrong-secret", False, 0, "mismatch"),
        (SECRET, True, 0, "mismatch"),
        (SECRET, False, -3600, "tolerance"),
    ],
)
def test_verify_invalid_exit_3(secret: str, tamper: bool, now_offset: int, needle: str) -> None:
    body, headers = delivery(time.time() + now_offset)
    if tamper:
        body = body.replace(b"completed", b"failed", 1)
    r = runner.invoke(
        app, ["webhook", "verify", "--secret", secret, *header_args(headers)], input=body.decode()
    )
    assert r.exit_code == 3 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid webhook delivery")
    assert needle in lines[0].lower() and secret not in r.stderr


def test_verify_usage_errors() -> None:
    r = runner.invoke(app, ["webhook", "verify", "-"], input="{}")
    assert r.exit_code == 2 and "--secret" in r.stderr
    r = runner.invoke(app, ["webhook", "verify", "--secret", "s", "--header", "nocolon"], input="")
    assert r.exit_code == 2 and "Name: value" in r.stderr


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[bytes, str | None]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers.get("webhook-signature")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_listen_verifies_prints_answers_and_forwards_valid_deliveries() -> None:
    sink = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    forward = f"http://127.0.0.1:{sink.server_address[1]}/hook"
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    proc = subprocess.Popen(
        [
            jobctl,
            "webhook",
            "listen",
            "--secret",
            SECRET,
            "--json",
            "--max",
            "2",
            "--forward",
            forward,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        url = first.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:"), first
        body, headers = delivery()
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            assert resp.status == 200
        bad = urllib.request.Request(url, data=body + b" ", headers=headers, method="POST")  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(bad, timeout=10)  # noqa: S310
        assert info.value.code == 401
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        sink.shutdown()
    assert proc.returncode == 0
    assert json.loads(out.splitlines()[0])["deliveryId"] == "msg_1"
    assert "rejected delivery" in err
    assert _Sink.received == [(body, headers["webhook-signature"])]
