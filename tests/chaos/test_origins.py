"""Credentials go only to the origin they were configured for (hardening, class 2).

A hostile API (server A) answers with a ``Location``, status, events and result
URLs on another origin (server B, which records every header it sees). Every
command that follows a URL runs against A with A's token: B must never see an
``Authorization`` header, and the ledger must not keep B's URL. Then the user
switches to B with B's token: ``--last`` must not send B's token to A. URL
credentials (``--url http://user:pw@host``) never appear in output, logs or the
ledger.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .rawserver import RawServer, Reply, Seen
from .support import cli_env, run_cli

TOKEN_A = "token-for-A-aaaaaaaa"
TOKEN_B = "token-for-B-bbbbbbbb"
PASSWORD = "pw-s3cret-in-url"


def job(job_id: str, status: str, other: str, **extra: object) -> bytes:
    body = {
        "jobId": job_id,
        "type": "echo",
        "status": status,
        "statusUrl": f"{other}/api/jobs/{job_id}",
        "eventsUrl": f"{other}/api/jobs/{job_id}/events",
        **extra,
    }
    return json.dumps(body).encode()


class Pair:
    """Server A (hostile: names B's URLs) and server B (records what reaches it)."""

    def __init__(self) -> None:
        self.b = RawServer(self._route_b).start()
        self.a = RawServer(self._route_a).start()

    def _route_b(self, req: Seen) -> Reply:
        status = "completed"
        body = job("j1", status, self.b.url, resultUrl=f"{self.b.url}/api/jobs/j1/result")
        if req.path.endswith("/result"):
            return Reply(200, b"from B", {"Content-Type": "application/octet-stream"})
        return Reply(200, body, {"Content-Type": "application/json"})

    def _route_a(self, req: Seen) -> Reply:
        other = self.b.url
        json_type = {"Content-Type": "application/json"}
        auth = req.headers.get("authorization", "")
        if auth != f"Bearer {TOKEN_A}" and not auth.startswith("Basic "):
            return Reply(401, b'{"detail": "who are you"}', {"WWW-Authenticate": "Bearer"})
        if req.method == "POST" and req.path.endswith("/retry"):
            headers = {"Location": f"{other}/api/jobs/j1", **json_type}
            return Reply(202, job("j1", "pending", other), headers)
        if req.method == "POST":
            headers = {"Location": f"{other}/api/jobs/j1", "Retry-After": "0", **json_type}
            return Reply(202, job("j1", "pending", other), headers)
        if req.path.endswith("/events"):
            return Reply(404, b'{"detail": "no streams here"}', json_type)
        if req.path.endswith("/result"):
            return Reply(200, b"from A", {"Content-Type": "application/octet-stream"})
        if req.method == "DELETE":
            return Reply(200, job("j1", "cancelled", other), json_type)
        extra = {"resultUrl": f"{other}/api/jobs/j1/result"}
        if "failed" in req.path:
            return Reply(200, job("failed", "failed", other, error={"retryable": True}), json_type)
        return Reply(200, job("j1", "completed", other, **extra), json_type)

    def close(self) -> None:
        self.a.stop()
        self.b.stop()

    def b_saw_credentials(self) -> list[str]:
        return [
            f"{s.method} {s.path}: {s.headers['authorization']}"
            for s in self.b.seen
            if "authorization" in s.headers
        ]


@pytest.fixture
def pair() -> object:
    servers = Pair()
    yield servers
    servers.close()


COMMANDS = [
    ["submit", "echo", "--wait"],
    ["submit", "echo", "--wait", "-o", "out.bin"],
    ["wait", "--last"],
    ["status", "--last"],
    ["events", "--last"],
    ["result", "--last", "-o", "r.bin"],
    ["cancel", "--last"],
    ["wait", "j1", "--strategy", "poll"],
    ["retry", "failed", "--wait"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_no_command_sends_the_token_to_an_origin_the_server_named(
    pair: Pair, tmp_path: Path, args: list[str]
) -> None:
    env = cli_env(pair.a.url, TOKEN_A, tmp_path)
    if "--last" in args:
        run_cli(["submit", "echo"], env, tmp_path)
    result = run_cli(args, env, tmp_path)
    assert "Traceback" not in result.err, result.err
    assert pair.b_saw_credentials() == []
    ledger = (tmp_path / "state" / "jobs.jsonl").read_text() if "--last" in args else ""
    assert pair.b.url not in ledger
    assert TOKEN_A not in result.out + result.err + ledger


def test_last_never_sends_one_servers_token_to_another(pair: Pair, tmp_path: Path) -> None:
    env_a = cli_env(pair.a.url, TOKEN_A, tmp_path)
    assert run_cli(["submit", "echo"], env_a, tmp_path).code == 0
    env_b = cli_env(pair.b.url, TOKEN_B, tmp_path)
    for args in (["status", "--last"], ["wait", "--last"], ["cancel", "--last"]):
        result = run_cli(args, env_b, tmp_path)
        assert result.code == 2, result
        assert f"--url {pair.a.url}" in result.err and "Traceback" not in result.err
    seen_by_a = [s.headers.get("authorization", "") for s in pair.a.seen]
    assert all(TOKEN_B not in h for h in seen_by_a)
    assert pair.b.seen == []  # refused before any request


def test_url_credentials_are_sent_home_only_and_never_shown(pair: Pair, tmp_path: Path) -> None:
    host = pair.a.url.removeprefix("http://")
    env = cli_env(f"http://someone:{PASSWORD}@{host}", None, tmp_path)
    ok = run_cli(["-v", "submit", "echo", "--wait"], env, tmp_path)
    assert ok.code == 0, ok
    sent = [s.headers.get("authorization", "") for s in pair.a.seen]
    assert sent and all(h.startswith("Basic ") for h in sent)
    assert pair.b_saw_credentials() == []
    ledger = (tmp_path / "state" / "jobs.jsonl").read_text()
    bad = run_cli(
        ["-v", "status", "j1"],
        cli_env(f"http://x:{PASSWORD}@127.0.0.1:9", None, tmp_path),
        tmp_path,
    )
    assert bad.code == 8
    for text in (ok.out, ok.err, ledger, bad.out, bad.err):
        assert PASSWORD not in text
    assert "x:***@127.0.0.1:9" in bad.err or "127.0.0.1:9" in bad.err
