"""jobctl.testing: ReferenceServer modes, the fixtures, start-up output and request logs."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from jobctl.testing import ReferenceServer

from .conftest import client, submit, wait_terminal

pytestmark = pytest.mark.integration


def test_fixture_server_is_up_with_default_users(reference_server: ReferenceServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", reference_server.url)
    assert reference_server.token == "alice-token"
    assert reference_server.admin_token == "admin-token"
    with client(reference_server) as c:
        assert c.get("/api/jobs").json() == {"jobs": [], "total": 0, "nextOffset": None}


def test_session_fixture_is_shared(reference_server_session: ReferenceServer) -> None:
    assert reference_server_session.running
    assert httpx.get(f"{reference_server_session.url}/healthz").status_code == 200


def test_server_keeps_state_and_port_across_restart() -> None:
    server = ReferenceServer()
    with server as s, client(s) as c:
        job = submit(c, "echo", hi=1)
        wait_terminal(c, job)
        url = s.url
        s.restart()
        assert s.url == url
        assert c.get(f"/api/jobs/{job}").json()["output"] == {"hi": 1}
    assert not server.running


def test_startup_lines_and_request_log_never_show_tokens() -> None:
    with ReferenceServer() as s, client(s) as c:
        c.get("/api/jobs")
        c.get("/api/jobs", headers={"Authorization": "Bearer not-a-real-token"})
        job = submit(c, "echo")
        wait_terminal(c, job)
        assert s.log_path is not None
        log = s.log_path.read_text()
    lines = log.splitlines()
    assert any(
        re.fullmatch(r"jobctl reference server listening on http://127\.0\.0\.1:\d+", ln)
        for ln in lines
    )
    access = [ln for ln in lines if "mock_server.access" in ln]
    assert any(re.search(r"GET /api/jobs 200 \d+\.\dms$", ln) for ln in access)
    assert any(re.search(r"GET /api/jobs 401 ", ln) for ln in access)
    assert any(re.search(r"POST /api/jobs 202 ", ln) for ln in access)
    for token in (*s.tokens.values(), "not-a-real-token"):
        assert token not in log


def test_dev_token_when_no_token_is_given_and_stdout_is_the_ready_line_only() -> None:
    """docs/server.md: stdout is exactly the ready line; the token hint and the store go
    to stderr (a script reads the URL from stdout, a person sees the hint)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "--port", "0", "--db", ":memory:", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline().strip()
        url = first.rsplit(" ", 1)[1]
        assert first == f"jobctl reference server listening on {url}"
        errors: list[str] = []  # uvicorn logs its start-up there too
        while "database: :memory:\n" not in errors and len(errors) < 20:
            errors.append(proc.stderr.readline())
        assert any("development token 'dev-token'" in line for line in errors), errors
        r = httpx.get(f"{url}/api/_stats", headers={"Authorization": "Bearer dev-token"})
        assert r.status_code == 200  # dev is an admin
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.stdout.read() == ""  # nothing after the ready line


def test_importing_the_plugin_does_not_import_fastapi_or_the_server() -> None:
    code = (
        "import sys, jobctl.testing\n"
        "print(*(m in sys.modules for m in ('fastapi', 'uvicorn', 'mock_server')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False False"


def test_server_does_not_outlive_the_process_that_started_it() -> None:
    import os
    import time

    code = (
        "import os; from jobctl.testing import ReferenceServer\n"
        "s = ReferenceServer(); s.start(); print(s.pid, flush=True)\n"
        "os._exit(0)  # dies without stopping the server\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)  # another process's exit: nothing to wait on
    raise AssertionError(f"server {pid} outlived its parent")
