"""Secrets stay secret: tokens and webhook secrets never appear in any output (also with
``-v``), log line, exception message, ledger, staging file or config dump; the config file
is created 0600.

Distinctive secret strings are used everywhere a secret can go (env, ``--token``, a
profile in the config file, ``--webhook-secret``, ``webhook verify/listen --secret``, a
wrong token the server refuses), then every captured stream, the server's log and every
file the CLI wrote is searched for them.
"""

from __future__ import annotations

import base64
import json
import logging
import stat
import time
from pathlib import Path

import pytest

from jobctl import AuthError, JobsClient
from jobctl.config import resolve_settings
from jobctl.testing import ReferenceServer
from jobctl.webhooks import sign_webhook

from .support import CliResult, Listener, cli_env, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TOKEN = "tok-CHAOS-alice-7f3a9c2e51d84b60"
BOB = "tok-CHAOS-bob-a4d2e8f10c3b5967"
ADMIN = "tok-CHAOS-admin-0b1c2d3e4f5a6b7c"
WRONG = "tok-CHAOS-wrong-9e8d7c6b5a493827"
WHSEC = "whsec_" + base64.b64encode(b"chaos-webhook-key-do-not-print!").decode()
OTHER = "whsec_" + base64.b64encode(b"another-webhook-key-not-printed").decode()
SECRETS = (TOKEN, BOB, ADMIN, WRONG, WHSEC, WHSEC.removeprefix("whsec_"), OTHER)


def leaks(text: str) -> list[str]:
    """The secrets whose first 16 characters appear in ``text`` (whole or cut short)."""
    return [s for s in SECRETS if s[:16] in text]


def test_no_secret_anywhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tokens = {"alice": TOKEN, "bob": BOB, "admin": ADMIN}
    server = ReferenceServer(tokens=tokens)  # access log on: it is searched too
    listener = Listener(tmp_path, [WHSEC], extra=("-v",))
    results: list[CliResult] = []
    with server:
        env = cli_env(server.url, TOKEN, tmp_path)

        def cli(*args: str, code: int = 0, env_: dict[str, str] | None = None) -> CliResult:
            res = run_cli(["-v", *args], env_ or env, tmp_path)  # -v may show tracebacks
            assert res.code == code, (args, res)
            results.append(res)
            return res

        hook = ["--webhook", listener.url, "--webhook-secret", WHSEC]
        for _ in range(2):  # the second run is answered as an idempotent replay
            cli(
                "submit",
                "echo",
                "-p",
                "a=1",
                "--wait",
                "-o",
                "out.json",
                *hook,
                "--idempotency-key",
                "k1",
            )
        cli("status", "--last")
        cli("wait", "--last")
        cli("events", "--last")
        cli("--json", "list")
        cli("result", "--last", "-o", "again.json")
        cli("submit", "fail", "-p", "retryable=true", "--wait", code=3)
        cli("retry", "--last", "--wait", code=3)
        cli("submit", "sleep", "-p", "seconds=30")
        cli("cancel", "--last")
        cli("status", "00000000-0000-4000-8000-000000000000", code=6)
        cli("--token", WRONG, "list", code=4)
        cli("--token", BOB, "status", "--last", code=6)  # bob cannot see alice's job
        cli("--url", "http://127.0.0.1:9", "list", code=8)
        no_env_token = cli_env(server.url, None, tmp_path)
        cli("config", "set", "token", TOKEN, "--profile", "ci", env_=no_env_token)
        cli("config", "set", "url", server.url, "--profile", "ci", env_=no_env_token)
        shown = cli("config", "get", "token", "--profile", "ci", env_=no_env_token)
        assert shown.out.strip() == "***", shown
        cli("config", "list", env_=no_env_token)
        cli("--profile", "ci", "--json", "list", env_=no_env_token)
        body = json.dumps(
            {
                "event": "completed",
                "jobId": "j",
                "timestamp": "2026-11-27T00:00:00Z",
                "data": {"status": "completed"},
            }
        )
        (tmp_path / "delivery.json").write_text(body)
        headers = sign_webhook(body, WHSEC, msg_id="msg_1", timestamp=time.time())
        flags = [x for k, v in headers.items() for x in ("-H", f"{k}: {v}")]
        cli("webhook", "verify", "--secret", WHSEC, *flags, "delivery.json")
        cli("webhook", "verify", "--secret", OTHER, *flags, "delivery.json", code=3)
        (tmp_path / "delivery.json").write_text(body + " ")
        cli("webhook", "verify", "--secret", WHSEC, *flags, "delivery.json", code=3)

        # the SDK: reprs, exception messages and debug logs
        caplog.set_level(logging.DEBUG)
        with JobsClient(server.url, TOKEN) as client:
            job = client.run("echo", {"b": 2}, webhook={"url": listener.url, "secret": WHSEC})
            sdk_text = repr(client) + repr(job) + job.model_dump_json()
        with (
            JobsClient(server.url, WRONG, max_retries=0) as bad,
            pytest.raises(AuthError) as caught,
        ):
            bad.list()
        sdk_text += str(caught.value) + repr(caught.value) + repr(caught.value.__dict__)
        sdk_text += repr(resolve_settings(url=server.url, token=TOKEN))
        deadline = time.monotonic() + 30
        while len(listener.out) < 2:  # one CLI webhook job (its rerun is a replay), one SDK
            assert time.monotonic() < deadline, listener.err
            time.sleep(0.05)
        server_log = server.log_path.read_text() if server.log_path else ""
        assert server_log
    out, err = listener.stop()

    everything = "\n".join(r.out + r.err for r in results) + out + err + sdk_text + caplog.text
    assert "POST" in caplog.text or "GET" in caplog.text  # -v / debug logs were on
    assert not leaks(everything), leaks(everything)
    assert not leaks(server_log), leaks(server_log)
    config = Path(tmp_path / "cfg" / "config.toml")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != config:
            found = leaks(path.read_bytes().decode("utf-8", "replace"))
            assert not found, (path, found)


def test_the_config_file_is_created_0600_even_with_a_loose_umask(tmp_path: Path) -> None:
    import os

    env = cli_env("http://127.0.0.1:9", None, tmp_path)
    old = os.umask(0o000)
    try:
        res = run_cli(["config", "set", "token", TOKEN], env, tmp_path)
    finally:
        os.umask(old)
    assert res.code == 0 and not leaks(res.out + res.err), res
    config = tmp_path / "cfg" / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    config.chmod(0o644)  # a later write does not leave it readable by others
    assert run_cli(["config", "set", "url", "http://127.0.0.1:1"], env, tmp_path).code == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
