"""``--misbehave``: each clause breaks exactly the ``jobctl doctor`` checks it names.

The table is the point: for every clause a real reference server breaks that one
clause, the whole doctor runs against it, and exactly the checks of the row fail;
every other check passes as on the well-behaved server (tests/cli/test_doctor.py),
except ``rate-limit`` (skipped: the doctor never hammers an API) and the checks a
row names as unable to look (``blocking-submit`` leaves no running job to look at).
When a check does not catch its clause, the check is what gets fixed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from jobctl.testing import ReferenceServer
from mock_server.config import MISBEHAVE_CLAUSES, Misbehaviour, parse_misbehave

pytestmark = pytest.mark.integration

JOBCTL = str(Path(sys.executable).with_name("jobctl"))
SERVER_ARGS = ("--quiet", "--keepalive", "0.2")
JOB = '{"seconds": 4, "steps": 8}'
"""Long enough to be seen running by the checks that need it on a loaded box."""


@dataclass(frozen=True)
class Row:
    """One clause and what the doctor must say about a server that breaks it.

    Args:
        clause: the ``--misbehave`` clause.
        fails: the checks that must fail (the others pass).
        skips: checks that cannot look at this server (besides ``rate-limit``).
        job: the doctor's ``-i`` (the job every check submits).
        ttl: the server's ``--job-ttl`` (the expiry check waits for it).
    """

    clause: str
    fails: frozenset[str]
    skips: frozenset[str] = field(default_factory=frozenset)
    job: str = JOB
    ttl: float = 2.0


TABLE = (
    Row("no-idempotency", frozenset({"idempotency", "lost-answer"})),
    Row("no-retry-after", frozenset({"hints"})),
    Row("no-progress", frozenset({"progress"})),
    Row("no-cancel", frozenset({"cancel"})),
    Row("no-expiry", frozenset({"expiry"})),
    # every submit waits for its job's end: nothing is ever seen running, so the checks
    # that look at a running job are skipped; a short job keeps each submit well
    # under the doctor's 5 s answer timeout, and a longer TTL keeps the main job's
    # result (ended at once) until the result check, three blocking submits later
    Row(
        "blocking-submit",
        frozenset({"submit"}),
        skips=frozenset({"progress", "hints", "long-poll", "cancel"}),
        job='{"seconds": 1.5, "steps": 3}',
        ttl=8.0,
    ),
    Row("sse-no-resume", frozenset({"events"})),
    Row("leaky-ownership", frozenset({"ownership"})),
    Row("plain-errors", frozenset({"problem-json"})),
)


def doctor(url: str, token: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.update(JOBCTL_URL=url, JOBCTL_TOKEN=token)
    env.update(JOBCTL_CONFIG=str(cwd / "c.toml"), JOBCTL_STATE_DIR=str(cwd))
    return subprocess.run(
        [JOBCTL, "doctor", *args], capture_output=True, text=True, env=env, timeout=150
    )


def test_the_table_names_every_clause() -> None:
    assert [row.clause for row in TABLE] == list(MISBEHAVE_CLAUSES)


IN_CI = ("no-idempotency", "no-retry-after", "no-cancel", "sse-no-resume", "leaky-ownership")
"""The clauses CI runs (a full doctor run each, ~10 s); the rest run with ``-m slow``,
which runs them all (the table is green for every clause: docs/doctor.md)."""


@pytest.mark.parametrize(
    "row",
    [row if row.clause in IN_CI else pytest.param(row, marks=pytest.mark.slow) for row in TABLE],
    ids=[row.clause for row in TABLE],
)
def test_each_clause_fails_exactly_its_checks(row: Row, tmp_path: Path) -> None:
    args = (*SERVER_ARGS, "--job-ttl", str(row.ttl), "--misbehave", row.clause)
    with ReferenceServer(args=args) as server:
        started = time.monotonic()
        r = doctor(
            server.url,
            server.token,
            *("--second-token", server.tokens["bob"], "-i", row.job, "--json"),
            cwd=tmp_path,
        )
        took = time.monotonic() - started
    assert r.returncode == 3, r.stdout + r.stderr
    report = json.loads(r.stdout)
    outcomes = {c["name"]: c["outcome"] for c in report["checks"]}
    expected = {
        name: "fail" if name in row.fails else "skipped" if name in row.skips else "pass"
        for name in outcomes
    }
    expected["rate-limit"] = "skipped"
    why = {c["name"]: (c["why"], c["seen"]) for c in report["checks"] if c["outcome"] != "pass"}
    assert outcomes == expected, why
    assert took < 60, f"doctor took {took:.0f}s"


def test_an_unknown_clause_is_one_line_and_exit_2() -> None:
    for cmd in (
        [sys.executable, "-m", "mock_server"],
        [JOBCTL, "server"],  # forwards every flag to the server
    ):
        r = subprocess.run(
            [*cmd, "--port", "0", "--misbehave", "no-cancel,no-manners"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2, r.stderr
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            "error: unknown --misbehave clause 'no-manners'; known: no-idempotency, "
        )


def test_clauses_parse_from_lists_and_repeats() -> None:
    both = parse_misbehave(["no-cancel", "plain-errors, no-expiry"])
    assert both == Misbehaviour(no_cancel=True, plain_errors=True, no_expiry=True)
    assert both.clauses == ("no-cancel", "no-expiry", "plain-errors")
    assert not parse_misbehave([]) and parse_misbehave("") == Misbehaviour()


@pytest.fixture(scope="module")
def rude() -> Iterator[ReferenceServer]:
    clauses = "no-retry-after,plain-errors,no-cancel,no-expiry"
    with ReferenceServer(args=("--quiet", "--misbehave", clauses)) as s:
        yield s


def test_wire_clauses_reach_every_answer_the_doctor_does_not_look_at(
    rude: ReferenceServer,
) -> None:
    with httpx.Client(base_url=rude.url, timeout=10) as http:
        # the auth middleware's 401 and a validation 400 are plain text too
        anonymous = http.get("/api/jobs")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("text/plain")
        assert anonymous.text == "a bearer token is required\n"
        auth = rude.headers()
        bad = http.post("/api/jobs", json={"type": "nope"}, headers=auth)
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/plain")
        # no Retry-After on the 202, no retryAfter in the status
        made = http.post(
            "/api/jobs", json={"type": "sleep", "input": {"seconds": 0.3}}, headers=auth
        )
        assert made.status_code == 202 and "retry-after" not in made.headers
        job_id = made.json()["jobId"]
        status = http.get(f"/api/jobs/{job_id}", headers=auth)
        assert "retry-after" not in status.headers and "retryAfter" not in status.json()
        # DELETE is 405, and the Allow header does not offer it
        refused = http.delete(f"/api/jobs/{job_id}", headers=auth)
        assert refused.status_code == 405 and refused.headers["allow"] == "GET"
        # the job ends and is kept for ever: no expiresAt
        deadline = time.monotonic() + 20
        while (body := http.get(f"/api/jobs/{job_id}", headers=auth).json())["status"] not in (
            "completed",
            "failed",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert body["status"] == "completed" and "expiresAt" not in body
        assert http.get(body["resultUrl"], headers=auth).status_code == 200
        # the routes outside /api keep their problem+json
        health = http.get("/healthz")
        assert health.status_code == 200
