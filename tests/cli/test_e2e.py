"""End to end: the installed ``jobctl`` executable against a real reference server.

Every exit code of CLI.md is produced for real, stdout/stderr are checked
separately, ``--json`` output goes through ``json.loads``, non-TTY output is
checked for ANSI codes and carriage returns, and signals are sent for real.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jobctl.testing import ReferenceServer

from .conftest import JOBCTL, Cli

pytestmark = pytest.mark.integration

ANSI = re.compile(r"\x1b\[")


def clean(text: str) -> None:
    assert "\r" not in text and not ANSI.search(text), repr(text)
    assert "Traceback" not in text


def test_completed_job_exit_0_id_first_on_stdout_progress_on_stderr(cli: Cli) -> None:
    r = cli("submit", "sleep", "-p", "seconds=0.6", "-p", "steps=3", "--wait")
    assert r.code == 0, r.err
    job_id = r.out.strip()
    assert r.out == f"{job_id}\n"
    assert f"jobctl wait {job_id}" in r.err
    assert re.search(rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ {job_id} completed", r.err, re.M)
    clean(r.out + r.err)
    status = cli("status", job_id, "--json")
    assert status.code == 0 and json.loads(status.out)["status"] == "completed"


def test_failed_job_exit_3(cli: Cli) -> None:
    r = cli("submit", "fail", "-p", "code=E_BOOM", "-p", "message=boom", "--wait")
    assert r.code == 3
    assert "failed: E_BOOM: boom" in r.err.splitlines()[-1]
    clean(r.err)


def test_cancelled_job_exit_5_and_cancel_itself_exit_0(cli: Cli) -> None:
    job_id = cli("submit", "sleep", "-p", "seconds=30", "-q").out.strip()
    cancelled = cli("cancel", job_id)
    assert cancelled.code == 0 and cancelled.out == f"{job_id} cancelled\n"
    r = cli("wait", job_id)
    assert r.code == 5 and r.out == f"{job_id} cancelled\n"
    assert "was cancelled" in r.err


def test_timeout_exit_7_with_resume_hint(cli: Cli) -> None:
    r = cli("submit", "sleep", "-p", "seconds=30", "--wait", "--timeout", "1")
    job_id = r.out.strip()
    assert r.code == 7
    assert f"resume with: jobctl wait {job_id}" in r.err.splitlines()[-1]
    assert cli("cancel", job_id).code == 0


def test_unknown_job_exit_6_bad_token_exit_4(cli: Cli) -> None:
    r = cli("status", "no-such-job")
    assert (r.code, r.out) == (6, "")
    assert r.err.startswith("error: not found (404)") and r.err.count("\n") == 1
    r = cli("list", "--token", "wrong-token")
    assert r.code == 4 and "authentication refused (401)" in r.err
    assert "wrong-token" not in r.err


def test_refused_exit_9_unknown_type_lists_offered_types(cli: Cli) -> None:
    r = cli("submit", "no-such-type", "-p", "a=1")
    assert r.code == 9 and r.out == ""
    assert "unknown job type" in r.err and "report" in r.err and r.err.count("\n") == 1
    done = cli("submit", "echo", "-p", "a=1", "--wait", "-q").out.strip()
    r = cli("retry", done)
    assert r.code == 9 and "(409)" in r.err


def test_bad_flags_exit_2(cli: Cli) -> None:
    r = cli("submit", "--wiat", "sleep")
    assert r.code == 2 and r.out == "" and r.err.count("\n") == 1


def test_stopped_server_exit_8(cli: Cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = cli("status", "abc", "--url", f"http://127.0.0.1:{port}")
    assert r.code == 8
    assert f"cannot reach the server at http://127.0.0.1:{port}" in r.err


def test_json_outputs_parse(cli: Cli) -> None:
    r = cli("submit", "echo", "-i", '{"hello": "world"}', "--wait", "--json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["status"] == "completed" and doc["output"] == {"hello": "world"}
    listing = json.loads(cli("list", "--json", "--limit", "2").out)
    assert len(listing["jobs"]) <= 2 and listing["total"] >= 1
    events = cli("events", doc["jobId"], "--json")
    assert events.code == 0
    parsed = [json.loads(line) for line in events.out.splitlines()]
    assert parsed and parsed[-1]["status"] == "completed"
    accepted = json.loads(cli("submit", "echo", "--json").out)
    assert accepted["status"] == "pending" and accepted["jobId"]


def test_several_jobs_one_deadline_worst_exit_code(cli: Cli) -> None:
    ok = cli("submit", "sleep", "-p", "seconds=0.3", "-q").out.strip()
    bad = cli("submit", "fail", "-p", "afterSeconds=0.2", "-q").out.strip()
    r = cli("wait", ok, bad, "--json")
    assert r.code == 3
    docs = json.loads(r.out)
    assert {d["jobId"]: d["status"] for d in docs} == {ok: "completed", bad: "failed"}


def test_several_jobs_are_followed_on_one_stream(
    cli: Cli, reference_server_session: ReferenceServer
) -> None:
    import collections

    import httpx

    srv = reference_server_session
    admin = {"Authorization": f"Bearer {srv.admin_token}"}

    def routes() -> collections.Counter[str]:
        stats = httpx.get(f"{srv.url}/api/_stats", headers=admin).json()
        return collections.Counter(stats["routes"])

    ids = [cli("submit", "sleep", "-p", "seconds=1", "-p", "steps=4", "-q").out.strip()]
    ids += [cli("submit", "sleep", "-p", "seconds=0.2", "-q").out.strip() for _ in range(3)]
    before = routes()
    r = cli("wait", *ids, "--progress", "plain")
    spent = routes() - before
    assert r.code == 0, r.err
    assert r.out.split() == [word for jid in ids for word in (jid, "completed")]
    assert spent["GET /api/events"] == 1, spent  # one connection, whatever the number
    assert "GET /api/jobs/{id}" not in spent and "GET /api/jobs/{id}/events" not in spent


def test_idempotency_key_resumes_the_same_job_and_last_follows_it(
    cli: Cli, isolated_env: Path, reference_server_session: ReferenceServer
) -> None:
    first = cli("submit", "sleep", "-p", "seconds=0.2", "--idempotency-key", "build-42")
    again = cli("submit", "sleep", "-p", "seconds=0.2", "--idempotency-key", "build-42")
    assert first.code == again.code == 0
    assert first.out == again.out
    assert "resumed job" in again.err
    r = cli("wait", "--last", "-q")
    assert r.code == 0 and r.out.split() == [first.out.strip(), "completed"]
    ledger = (isolated_env / "state" / "jobs.jsonl").read_text()
    assert '"idempotency_key":"build-42"' in ledger
    assert reference_server_session.token not in ledger


def test_result_download_resume_safe_and_no_silent_overwrite(cli: Cli, isolated_env: Path) -> None:
    out = isolated_env / "out"
    out.mkdir()
    r = cli("submit", "report", "-p", "pages=2", "-p", "secondsPerPage=0", "--wait", "-o", "out/")
    assert r.code == 0, r.err
    job_id = r.out.strip()
    (saved,) = out.iterdir()
    assert saved.read_bytes().startswith(b"%PDF")
    again = cli("result", job_id, "-o", str(saved))
    assert again.code == 0 and again.out == f"{saved}\n" and "left unchanged" in again.err
    saved.write_bytes(b"something else")
    refused = cli("result", job_id, "-o", str(saved))
    assert refused.code == 2 and "exists and differs" in refused.err and "--force" in refused.err
    assert saved.read_bytes() == b"something else"
    forced = cli("result", job_id, "-o", str(saved), "--force")
    assert forced.code == 0 and saved.read_bytes().startswith(b"%PDF")
    assert [p.name for p in out.iterdir()] == [saved.name]
    raw = subprocess.run(
        [JOBCTL, "result", job_id, "-o", "-"],
        capture_output=True,
        env=cli.env,
        check=True,  # type: ignore[attr-defined]
    )
    assert raw.stdout == saved.read_bytes()


def test_verbose_shows_requests_without_the_token(
    cli: Cli, reference_server_session: ReferenceServer
) -> None:
    r = cli("list", "-v", "--limit", "1")
    assert r.code == 0
    assert "GET" in r.err and "/api/jobs" in r.err
    assert reference_server_session.token not in r.err + r.out


def _start_waiting(cli: Cli, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [JOBCTL, "submit", "sleep", "-p", "seconds=30", "--wait", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,  # type: ignore[attr-defined]
    )
    assert proc.stdout is not None and proc.stderr is not None
    job_id = proc.stdout.readline().strip()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait until it is following the job
        line = proc.stderr.readline()
        if f"{job_id} " in line and "Z " in line:
            break
    return proc, job_id


def test_sigint_stops_waiting_leaves_the_job_running_and_says_how_to_resume(cli: Cli) -> None:
    proc, job_id = _start_waiting(cli)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert f"resume with: jobctl wait {job_id}" in err
    assert cli("status", job_id, "-q").out.strip() in ("pending", "processing")
    assert cli("cancel", job_id).code == 0


@pytest.mark.parametrize("name", ["result.json", "my dir/with space.json"])
def test_the_resume_hint_keeps_the_output(cli: Cli, isolated_env: Path, name: str) -> None:
    (isolated_env / "my dir").mkdir()
    output = str(isolated_env / name)
    proc, job_id = _start_waiting(cli, "-o", output)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130
    hint = err.split("resume with: ", 1)[1].splitlines()[0]
    assert shlex.split(hint) == ["jobctl", "wait", job_id, "-o", output]
    timed_out = cli("wait", job_id, "--timeout", "0", "-o", output)
    assert timed_out.code == 7 and shlex.split(
        timed_out.err.split("resume with: ", 1)[1].splitlines()[0]
    ) == ["jobctl", "wait", job_id, "-o", output]
    assert cli("cancel", job_id).code == 0


def test_sigterm_with_cancel_on_interrupt_cancels_the_job(cli: Cli) -> None:
    proc, job_id = _start_waiting(cli, "--cancel-on-interrupt")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143
    assert f"cancelled job {job_id}" in err
    assert cli("status", job_id, "-q").out.strip() == "cancelled"


def _heavy_modules(*args: str) -> set[str]:
    probe = (
        "import sys\n"
        "from jobctl.cli.app import main\n"
        "code = main(sys.argv[1:])\n"
        "loaded = {m.split('.')[0] for m, mod in sys.modules.items() if mod is not None}\n"
        "print('LOADED', ' '.join(sorted(loaded)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
    ).stdout
    return set(out.strip().splitlines()[-1].split()[1:])


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["submit", "--help"]])
def test_version_and_help_do_not_import_httpx_or_the_server(args: list[str]) -> None:
    heavy = {"httpx", "mock_server", "fastapi", "uvicorn"}
    if len(args) == 1:
        # A command's help parses the root's options first, and Typer validates option
        # values with pydantic; the root's own help and the version do neither.
        heavy.add("pydantic")
    assert not _heavy_modules(*args) & heavy


def test_demo_runs_on_a_fresh_install(isolated_env: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("JOBCTL_URL", "JOBCTL_TOKEN")}
    env["TMPDIR"] = str(isolated_env)  # the demo's default output dir is a new temp dir
    proc = subprocess.run(
        [JOBCTL, "demo", "--pages", "3"],
        capture_output=True,
        text=True,
        env=env,
        cwd=isolated_env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.is_file() and path.read_bytes().startswith(b"%PDF")
    assert path.is_relative_to(isolated_env)
    assert "completed 3/3" in proc.stderr
    assert re.search(r"dashboard: http://127\.0\.0\.1:\d+/ ", proc.stderr)
    clean(proc.stderr)


def test_demo_serve_keeps_the_dashboard_up_until_ctrl_c(isolated_env: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("JOBCTL_URL", "JOBCTL_TOKEN")}
    env["TMPDIR"] = str(isolated_env)
    proc = subprocess.Popen(
        [JOBCTL, "demo", "--pages", "1", "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=isolated_env,
    )
    try:
        assert proc.stderr is not None
        lines = []
        while not any("until Ctrl-C" in line for line in lines) and len(lines) < 50:
            lines.append(proc.stderr.readline())
        url = re.findall(r"serving the dashboard at (\S+) until Ctrl-C", "".join(lines))[0]
        page = httpx.get(url)
        assert page.status_code == 200 and "<title>jobctl dashboard</title>" in page.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_retry_a_failed_job_then_list_all_pages(cli: Cli) -> None:
    failed = cli("submit", "flaky", "-p", "failTimes=1", "--wait")
    assert failed.code == 3 and "retry it with: jobctl retry" in failed.err
    old_id = failed.out.strip()
    r = cli("retry", old_id, "--wait")
    assert r.code == 0, r.err
    new_id = r.out.strip()
    assert new_id and new_id != old_id
    assert cli("status", "--last", "-q").out == "completed\n"
    listing = json.loads(cli("list", "--all", "--limit", "1", "--json").out)
    ids = [j["jobId"] for j in listing["jobs"]]
    assert {old_id, new_id} <= set(ids) and listing["nextOffset"] is None
    table = cli("list", "--type", "flaky")
    assert table.code == 0 and table.out.startswith("ID") and new_id in table.out


def test_submit_with_output_to_stdout_keeps_stdout_for_the_bytes(cli: Cli) -> None:
    proc = subprocess.run(
        [JOBCTL, "submit", "echo", "-i", '{"x": [1, 2]}', "-o", "-"],
        capture_output=True,
        env=cli.env,  # type: ignore[attr-defined]
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"x": [1, 2]}
    assert b"submitted echo job" in proc.stderr


def test_result_resumes_a_partial_download(
    cli: Cli, isolated_env: Path, reference_server_session: ReferenceServer
) -> None:
    import httpx

    r = cli("submit", "blob", "-p", "sizeBytes=300000", "-p", "seed=7", "--wait", "--json")
    assert r.code == 0, r.err
    job = json.loads(r.out)
    url = httpx.URL(reference_server_session.url).join(job["resultUrl"])
    auth = {"Authorization": f"Bearer {reference_server_session.token}"}
    full = httpx.get(url, headers=auth)
    etag = full.headers["etag"]
    # What an interrupted earlier `jobctl result ID -o out/blob.bin` leaves behind:
    out = isolated_env / "out"
    out.mkdir()
    (out / "blob.bin.part").write_bytes(full.content[:100_000])
    (out / "blob.bin.part.etag").write_text(etag)
    resumed = cli("-v", "result", job["jobId"], "-o", "out/blob.bin")
    assert resumed.code == 0, resumed.err
    assert "bytes=100000-" in resumed.err
    assert (out / "blob.bin").read_bytes() == full.content
    assert sorted(p.name for p in out.iterdir()) == ["blob.bin"]


def test_wait_on_a_terminal_draws_a_live_bar(cli: Cli) -> None:
    import pty

    job_id = cli("submit", "sleep", "-p", "seconds=0.5", "-p", "steps=5", "-q").out.strip()
    main, secondary = pty.openpty()
    env = {**cli.env, "COLUMNS": "120"}  # type: ignore[attr-defined]
    env.pop("CI", None)
    proc = subprocess.Popen(
        [JOBCTL, "wait", job_id], stdin=secondary, stdout=secondary, stderr=secondary, env=env
    )
    os.close(secondary)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(main)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())
    assert proc.returncode == 0
    assert "5/5" in screen and "completed" in screen and "━" in screen


def test_result_takes_the_result_url_status_prints(cli: Cli, isolated_env: Path) -> None:
    r = cli("submit", "echo", "-i", '{"n": 7}', "--wait", "--json")
    assert r.code == 0, r.err
    job = json.loads(r.out)
    summary = cli("status", job["jobId"]).out
    result_url = next(w for w in summary.split() if w.endswith("/result"))
    out = isolated_env / "r.json"
    got = cli("result", result_url, "-o", str(out))
    assert got.code == 0, got.err
    assert json.loads(out.read_bytes()) == {"n": 7}


@pytest.mark.parametrize("order", [("done", "missing"), ("missing", "done")])
def test_wait_json_keeps_a_missing_job_in_the_array(cli: Cli, order: tuple[str, str]) -> None:
    done = cli("submit", "echo", "--wait", "-q").out.split()[0]
    refs = {"done": done, "missing": "no-such-job-123"}
    r = cli("wait", *(refs[name] for name in order), "--json")
    assert r.code == 6, r.err
    docs = json.loads(r.out)
    assert [d["jobId"] for d in docs] == [refs[name] for name in order]
    missing = next(d for d in docs if d["jobId"] == "no-such-job-123")
    assert missing["status"] is None and missing["problem"]["exitCode"] == 6
    assert "not found" in missing["problem"]["message"]
    plain = cli("wait", *(refs[name] for name in order))
    assert "no-such-job-123 unknown" in plain.out.splitlines()


def test_events_of_several_jobs_name_each_and_end_with_the_worst_code(cli: Cli) -> None:
    ok = cli("submit", "sleep", "-p", "seconds=0.5", "-p", "steps=2", "-q").out.strip()
    bad = cli("submit", "fail", "-p", "afterSeconds=0.3", "-q").out.strip()
    r = cli("events", ok, bad)
    assert r.code == 3, r.err
    completes = [line.split()[1] for line in r.out.splitlines() if " complete " in line]
    assert sorted(completes) == sorted([ok, bad])
    lines = [json.loads(line) for line in cli("events", ok, bad, "--json").out.splitlines()]
    assert {d["jobId"] for d in lines} == {ok, bad}
    assert cli("events", ok, "--all").code == 2
    assert cli("events", ok, bad, "--last-event-id", "3").code == 2


def test_events_all_follows_new_jobs_until_interrupted(cli: Cli) -> None:
    proc = subprocess.Popen(
        [JOBCTL, "events", "--all", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,  # type: ignore[attr-defined]
    )
    assert proc.stdout is not None
    try:
        time.sleep(1.0)  # the stream is open by now (or opens before the job's events end)
        job_id = cli("submit", "sleep", "-p", "seconds=0.3", "-q").out.strip()
        seen: list[dict[str, object]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            event = json.loads(proc.stdout.readline())
            seen.append(event)
            if event.get("jobId") == job_id and event["event"] == "complete":
                break
        assert any(e.get("jobId") == job_id and e["event"] == "status" for e in seen)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and err.strip().endswith("stopped"), err


def test_list_watch_off_a_terminal_is_one_json_line_per_change(cli: Cli) -> None:
    proc = subprocess.Popen(
        [JOBCTL, "list", "--watch", "--json", "--limit", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,  # type: ignore[attr-defined]
    )
    assert proc.stdout is not None
    try:
        time.sleep(1.0)
        job_id = cli("submit", "sleep", "-p", "seconds=0.3", "-p", "steps=3", "-q").out.strip()
        statuses: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "completed" not in statuses:
            doc = json.loads(proc.stdout.readline())
            if doc["jobId"] == job_id:
                statuses.append(doc["status"])
                assert doc["type"] == "sleep"  # a new job's row is read once, whole
        assert statuses[-1] == "completed" and statuses == sorted(
            statuses, key=["pending", "processing", "completed"].index
        )
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err


def test_list_watch_on_a_terminal_changes_rows_in_place(cli: Cli) -> None:
    import pty

    main, secondary = pty.openpty()
    env = {**cli.env, "COLUMNS": "120"}  # type: ignore[attr-defined]
    env.pop("CI", None)
    proc = subprocess.Popen(
        [JOBCTL, "list", "-w", "--limit", "3"],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    os.set_blocking(main, False)
    try:
        time.sleep(1.0)
        job_id = cli("submit", "sleep", "-p", "seconds=0.3", "-q").out.strip()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                chunks.append(os.read(main, 65536))
            except BlockingIOError:
                continue
            screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())
            if re.search(rf"{job_id}\s+sleep\s+completed", screen):
                break
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        os.close(main)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())
    assert re.search(rf"{job_id}\s+sleep\s+completed", screen), screen[-2000:]
    assert "\x1b[" in b"".join(chunks).decode()  # redrawn in place (cursor moves), not appended
    assert proc.returncode == 130
