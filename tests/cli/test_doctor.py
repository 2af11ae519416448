"""``jobctl doctor`` against the real reference server, and against servers that can't pass.

The table-driven test of the server's ``--misbehave`` clauses (each breaks exactly
the checks it names) lives beside the switches (tests/server/test_misbehave.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos.rawserver import Hang, RawServer, Reply, Seen

from jobctl.testing import ReferenceServer

from .conftest import JOBCTL, Run

WELL_BEHAVED = ("--quiet", "--job-ttl", "3", "--keepalive", "0.5")


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=WELL_BEHAVED) as s:
        yield s


def doctor(url: str, token: str | None, *args: str, cwd: Path, timeout: float = 120) -> Run:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.update(JOBCTL_URL=url, JOBCTL_CONFIG=str(cwd / "c.toml"), JOBCTL_STATE_DIR=str(cwd))
    if token:
        env["JOBCTL_TOKEN"] = token
    proc = subprocess.run(
        [JOBCTL, "doctor", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def test_the_reference_server_passes_every_check(server: ReferenceServer, tmp_path: Path) -> None:
    slack = '{"seconds": 6, "steps": 12}'  # a loaded CI box may queue the job a while
    args = ("--second-token", "bob-token", "-i", slack, "--json")
    r = doctor(server.url, server.token, *args, cwd=tmp_path)
    assert r.code == 0, r.out + r.err
    report = json.loads(r.out)
    outcomes = {c["name"]: c["outcome"] for c in report["checks"]}
    assert outcomes.pop("rate-limit") == "skipped"  # the doctor never hammers an API
    assert set(outcomes.values()) == {"pass"}, report
    assert report["ok"] and all(c["requests"] <= 62 for c in report["checks"])


def test_plain_lines_off_a_terminal_and_only(server: ReferenceServer, tmp_path: Path) -> None:
    r = doctor(server.url, server.token, "--only", "submit", "--only", "auth", cwd=tmp_path)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("PASS submit (") and lines[1].startswith("PASS auth (")
    assert lines[-1].endswith("2 pass, 0 warn, 0 fail, 0 skipped")
    bad = doctor(server.url, server.token, "--only", "nope", cwd=tmp_path)
    assert bad.code == 2 and "no such check" in bad.err


def test_the_doctors_jobs_are_cancelled_at_the_end(server: ReferenceServer, tmp_path: Path) -> None:
    import httpx

    r = doctor(server.url, server.token, "--only", "submit", cwd=tmp_path)
    assert r.code == 0
    time.sleep(0.3)
    jobs = httpx.get(f"{server.url}/api/jobs", params={"limit": 5}, headers=server.headers()).json()
    newest = jobs["jobs"][0]
    assert newest["status"] == "cancelled"


def test_an_unreachable_api_is_exit_8_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    r = doctor("http://127.0.0.1:9", "t", cwd=tmp_path)
    assert r.code == 8 and r.err.startswith("error: cannot reach the API at http://127.0.0.1:9")
    assert time.monotonic() - started < 15 and "Traceback" not in r.err


def test_an_api_that_never_answers_ends_in_bounded_time(tmp_path: Path) -> None:
    with RawServer(lambda req: Hang()) as srv:
        started = time.monotonic()
        r = doctor(srv.url, "t", cwd=tmp_path)
    assert r.code == 8 and "no answer in time" in r.err
    assert time.monotonic() - started < 30


def test_a_url_that_answers_html_fails_clearly(tmp_path: Path) -> None:
    def html(req: Seen) -> Reply:
        return Reply(200, b"<html>Welcome to nginx</html>", {"Content-Type": "text/html"})

    with RawServer(html) as srv:
        r = doctor(srv.url, "t", cwd=tmp_path, timeout=120)
    assert r.code == 3, r.out + r.err
    assert "FAIL submit" in r.out and "expected 202 Accepted, got 200 (text/html)" in r.out
    assert "Traceback" not in r.err


def test_the_token_stays_home_when_the_url_names_another_api(tmp_path: Path) -> None:
    seen: list[Seen] = []

    def record(req: Seen) -> Reply:
        seen.append(req)
        return Reply(404, b"")

    with RawServer(record) as srv:
        import os
        import subprocess

        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
        env.update(JOBCTL_URL="http://127.0.0.1:9", JOBCTL_TOKEN="secret-for-9")
        env.update(JOBCTL_CONFIG=str(tmp_path / "c.toml"), JOBCTL_STATE_DIR=str(tmp_path))
        subprocess.run([JOBCTL, "doctor", srv.url, "--only", "submit"], env=env, timeout=60)
    assert seen and all("authorization" not in s.headers for s in seen)
