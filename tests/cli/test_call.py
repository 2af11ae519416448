"""``jobctl call`` and ``jobctl wait TOKEN|URL`` end to end, and their bad input.

Against the real reference server in our own dialect (the other dialects have
their own end-to-end tests against the server's /azure, /google and /location
routes); bad input is refused with exit 2 before anything is sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Cli

ECHO = '{"type": "echo", "input": {"n": 1}}'


def test_call_wait_prints_the_result(cli: Cli) -> None:
    r = cli("call", "POST", "/api/jobs", "-d", ECHO, "--wait")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"n": 1}
    assert "Traceback" not in r.err


def test_call_then_wait_the_token_in_another_process(cli: Cli) -> None:
    started = cli("call", "POST", "/api/jobs", "-d", ECHO)
    assert started.code == 0, started.err
    token = started.out.strip()
    assert token.startswith("jobctl-op1.") and "follow it with: jobctl wait" in started.err
    waited = cli("wait", token, "--json")
    assert waited.code == 0, waited.err
    doc = json.loads(waited.out)
    assert doc["outcome"] == "succeeded" and doc["dialect"] == "jobctl"
    assert doc["result"] == {"n": 1} and doc["resumeToken"] == token and doc["requests"] >= 2
    last = cli("wait", "--last")  # the ledger remembers calls too
    assert last.code == 0 and last.out.strip().endswith("succeeded"), last.err


def test_call_json_document(cli: Cli) -> None:
    r = cli("call", "POST", "/api/jobs", "-d", ECHO, "--wait", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert set(doc) == {
        "outcome",
        "status",
        "result",
        "error",
        "dialect",
        "resumeToken",
        "requests",
    }


def test_a_failed_operation_exits_3_with_its_reason(cli: Cli) -> None:
    body = '{"type": "fail", "input": {"code": "E_NOPE", "message": "no pages"}}'
    r = cli("call", "POST", "/api/jobs", "-d", body, "--wait")
    assert r.code == 3, r.err
    assert r.out == ""
    assert "failed" in r.err and "E_NOPE" in r.err and "no pages" in r.err


def test_wait_mixes_jobs_and_operations(cli: Cli) -> None:
    job = cli("submit", "echo", "-q").out.strip()
    token = cli("call", "POST", "/api/jobs", "-d", ECHO).out.strip()
    r = cli("wait", job, token, "--json")
    assert r.code == 0, r.err
    docs = json.loads(r.out)
    assert docs[0]["jobId"] == job and docs[0]["status"] == "completed"
    assert docs[1]["outcome"] == "succeeded"


def test_o_writes_the_result_and_keeps_a_different_file(cli: Cli, isolated_env: Path) -> None:
    out = isolated_env / "r.json"
    r = cli("call", "POST", "/api/jobs", "-d", ECHO, "--wait", "-o", str(out))
    assert r.code == 0 and r.out == "", r.err
    assert json.loads(out.read_text()) == {"n": 1}
    again = cli("call", "POST", "/api/jobs", "-d", ECHO, "--wait", "-o", str(out))
    assert again.code == 2 and "--force" in again.err
    forced = cli("call", "POST", "/api/jobs", "-d", ECHO, "--wait", "-o", str(out), "--force")
    assert forced.code == 0, forced.err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["call", "GE T", "/x"], "not an HTTP method"),
        (["call", "POST", "example.com/x"], "not a URL"),
        (["call", "POST", "/x", "-d", "{bad json"], "-d must be JSON"),
        (["call", "POST", "/x", "-d", "@/no/such/file"], "No such file"),
        (["call", "POST", "/x", "-H", "NoColonHere"], "a header is 'Name: value'"),
        (["call", "POST", "/x", "--dialect", "aws"], "unknown dialect"),
        (["call", "POST", "/x", "--final-state-via", "there"], "unknown final-state rule"),
        (["wait", "jobctl-op1.eyJ2IjoxfQ.AAAA"], "not a jobctl resume token"),
        (["wait", "jobctl-op9.eyJ2IjoxfQ.AAAA"], "version 9"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli: Cli, args: list[str], says: str) -> None:
    r = cli(*args)
    assert r.code == 2, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], r.err


def test_a_truncated_or_altered_token_is_refused(cli: Cli) -> None:
    token = cli("call", "POST", "/api/jobs", "-d", ECHO).out.strip()
    for bad in (token[:-3], token[:30], token.replace(".", ".x", 1)):
        r = cli("wait", bad)
        assert r.code == 2 and "not a jobctl resume token" in r.err, (bad, r.err)


DIALECT_CALLS = {
    "azure": ("POST", "/azure/jobs:start?api-version=2024-05-01", ECHO),
    "azure-resource": (
        "PUT",
        "/azure/resources/cli-echo?api-version=2024-05-01",
        '{"properties": {"type": "echo", "input": {"n": 1}}}',
    ),
    "google": ("POST", "/google/v1/jobs:run", ECHO),
    "location": ("POST", "/location/jobs?retry-after=none", ECHO),
}


@pytest.mark.parametrize("dialect", sorted(DIALECT_CALLS))
def test_every_dialect_from_the_command_line(cli: Cli, dialect: str) -> None:
    method, path, body = DIALECT_CALLS[dialect]
    started = cli("call", method, path, "-d", body)
    assert started.code == 0, started.err
    token = started.out.strip()
    # progress lines name it op-XXXXXXXX, and that name finds it again in the ledger
    name = "op-" + token.rsplit(".", 1)[-1][:8]
    waited = cli("wait", name, "--json")
    assert waited.code == 0, waited.err
    doc = json.loads(waited.out)
    assert doc["outcome"] == "succeeded" and doc["resumeToken"] == token
    result = doc["result"]
    assert result.get("n") == 1 or result["properties"]["output"] == {"n": 1}
    assert name in waited.err


def test_an_unknown_operation_name_is_a_usage_error(cli: Cli) -> None:
    r = cli("wait", "op-AAAAAAAA")
    assert r.code == 2 and "no operation of that name" in r.err and r.out == ""
