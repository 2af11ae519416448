"""Hostile server text never reaches the terminal raw: a matrix of strings × command paths.

Each string that came from a server (an error code and message, a problem+json
``detail``, a job id, type, status, progress message, event name, result file
name) is put through every command that shows it — ``submit --wait``,
``status``, ``wait``, ``events``, ``list`` — both as plain lines (no TTY) and
with a forced terminal (``--progress bar``, colour on). The output may hold no
control character but the newlines ending lines (at a terminal: none but the
ones rich itself writes for colours and the live view), no bidi override, and
rich markup in a message is shown as text, never as a style or a link.

The error paths run against the real reference server (a ``fail`` job takes
any ``code`` and ``message``); what the reference server cannot be made to send
(a hostile job id, type, status, progress message or event name) comes from
respx, in the same process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from jobctl import JobsClient
from jobctl.cli.io import IOStreams
from jobctl.cli.root import main
from jobctl.cli.text import clean, is_unsafe
from jobctl.models import job_id_problem
from jobctl.testing import ReferenceServer

HOSTILE = {
    "csi-clear": "boom \x1b[2J cleared",
    "osc-title": "\x1b]0;pwned\x07 retitled",
    "bell": "ding\x07 dong",
    "forged-line": "ok\r\nerror: all good, ignore the line above",
    "c1-csi": "\x9b31m red via C1",
    "rtl-override": "invoice \u202egpj.exe",
    "markup": "[red]x[/red] styled?",
    "link": "[link=http://evil.example]click[/link] linked?",
}
MODES = {"plain": (False, ["--progress", "plain"]), "tty": (True, ["--progress", "bar"])}
# What rich itself writes at a terminal: colours, the live view's cursor moves, erase-line.
RICH_OWN = re.compile(r"\x1b\[[0-9;]*m|\x1b\[2K|\x1b\[[0-9]*A|\x1b\[\?25[hl]|\r")


def assert_safe(text: str, *, tty: bool) -> None:
    """No control, format or separator character but line-ending newlines (and rich's own)."""
    assert "\x1b]" not in text, "an OSC sequence (title, hyperlink) got through"
    rest = RICH_OWN.sub("", text) if tty else text
    bad = sorted({ch for ch in rest if is_unsafe(ch) and ch != "\n"})
    assert not bad, f"raw {bad!r} in {text!r}"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run jobctl in this process on test streams; returns (code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "220")  # wide enough that a live row shows the reason
    monkeypatch.setenv("LINES", "40")

    def go(*argv: str, tty: bool = False) -> tuple[int, str, str]:
        streams = IOStreams.test(tty=tty, color=tty)
        monkeypatch.setattr(IOStreams, "system", classmethod(lambda cls: streams))
        code = main(list(argv))
        return code, streams.out_text(), streams.err_text()

    yield go


# --- against the real reference server: error codes and messages -------------------------


@pytest.fixture(scope="module")
def failed_jobs(reference_server_session: ReferenceServer) -> dict[str, str]:
    """One failed ``fail`` job per hostile string (as its code and message)."""
    server = reference_server_session
    ids = {}
    with JobsClient(base_url=server.url, token=server.token) as client:
        for name, text in HOSTILE.items():
            job = client.submit("fail", {"code": text[:100], "message": text})
            ids[name] = client.wait(job.job_id, timeout=30).job_id
    return ids


@pytest.mark.integration
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(HOSTILE))
def test_failed_job_text_is_escaped_in_every_command(
    run: Any,
    reference_server_session: ReferenceServer,
    failed_jobs: dict[str, str],
    name: str,
    mode: str,
) -> None:
    server = reference_server_session
    tty, progress = MODES[mode]
    common = ["--url", server.url, "--token", server.token, *progress]
    text, job_id = HOSTILE[name], failed_jobs[name]
    shown = clean(text)

    payload = json.dumps({"code": text[:100], "message": text})
    code, out, err = run(*common, "submit", "fail", "-i", payload, "--wait", tty=tty)
    assert code == 3, err
    assert_safe(out + err, tty=tty)
    visible = RICH_OWN.sub("", err)
    error_lines = [line for line in visible.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and shown in error_lines[0], err

    code, out, err = run(*common, "status", job_id, tty=tty)
    assert code == 0, err
    assert_safe(out + err, tty=tty)
    assert f"error:    {clean(text[:100])}: {shown}" in out

    code, out, err = run(*common, "wait", job_id, tty=tty)
    assert code == 3, err
    assert_safe(out + err, tty=tty)
    visible = RICH_OWN.sub("", err)
    assert shown in visible.splitlines()[-1]
    if tty:  # the live row says why, too (code: message, shortened)
        assert clean(text[:100])[:20] in visible

    code, out, err = run(*common, "events", job_id, tty=tty)
    assert code == 3, err
    assert_safe(out + err, tty=tty)
    assert shown in out

    code, out, err = run(*common, "list", "--type", "fail", "--limit", "5", tty=tty)
    assert code == 0, err
    assert_safe(out + err, tty=tty)


@pytest.mark.integration
@pytest.mark.parametrize("name", list(HOSTILE))
def test_json_output_stays_exact_json_without_raw_controls(
    run: Any,
    reference_server_session: ReferenceServer,
    failed_jobs: dict[str, str],
    name: str,
) -> None:
    server = reference_server_session
    common = ["--url", server.url, "--token", server.token, "--json"]
    code, out, err = run(*common, "status", failed_jobs[name])
    assert code == 0, err
    assert_safe(out + err, tty=False)
    assert json.loads(out)["error"]["message"] == HOSTILE[name]
    code, out, _ = run(*common, "events", failed_jobs[name])
    assert_safe(out, tty=False)
    last = json.loads(out.splitlines()[-1])
    assert last["error"]["message"] == HOSTILE[name]


@pytest.mark.integration
def test_the_real_executable_writes_no_raw_controls(
    reference_server_session: ReferenceServer, failed_jobs: dict[str, str], tmp_path: Path
) -> None:
    """End to end, off a terminal: the bytes jobctl writes to its pipes."""
    import os
    import subprocess
    import sys

    server = reference_server_session
    jobctl = str(Path(sys.executable).with_name("jobctl"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.update(JOBCTL_URL=server.url, JOBCTL_TOKEN=server.token, TERM="xterm-256color")
    for job_id in failed_jobs.values():
        for args in (["wait", job_id], ["status", job_id], ["events", job_id]):
            done = subprocess.run(
                [jobctl, *args], capture_output=True, env=env, cwd=tmp_path, timeout=60
            )
            raw = done.stdout + done.stderr
            assert all(b >= 0x20 or b == 0x0A for b in raw), raw
            assert "\u202e".encode() not in raw and b"\xc2\x9b" not in raw


# --- what the reference server cannot send: respx in this process --------------------------

API = "http://api.hostile.test"
TOKEN = "respx-hostile-token"
NOW = "2026-11-27T17:40:00Z"


def hostile_id(text: str) -> str:
    """``j1`` + text as a job id, unless the SDK refuses such an id (controls, slashes)."""
    return "j1" if job_id_problem("j1" + text) else "j1" + text


def doc(text: str, **changes: Any) -> dict[str, Any]:
    """A job document whose server-chosen strings are all ``text`` (the id when allowed)."""
    base: dict[str, Any] = {
        "jobId": hostile_id(text),
        "type": "t" + text,
        "status": "processing",
        "createdAt": NOW,
        "updatedAt": NOW,
        "progress": {"current": 1, "total": 4, "message": text},
    }
    return {**base, **changes}


def failed(text: str) -> dict[str, Any]:
    return doc(text, status="failed", error={"code": text, "message": text, "retryable": True})


def sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    chunks = [b"retry: 1000\n\n"]
    for i, (name, data) in enumerate(events, 1):
        chunks.append(f"id: {i}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode())
    return b"".join(chunks)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def wire_name(text: str) -> str:
    """An SSE event name can't hold CR or LF (they end the line on the wire)."""
    return text.replace("\r", "").replace("\n", "")


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(HOSTILE))
def test_ids_types_statuses_messages_and_event_names_are_escaped(
    run: Any, mock: respx.MockRouter, name: str, mode: str
) -> None:
    tty, progress = MODES[mode]
    text = HOSTILE[name]
    common = ["--url", API, "--token", TOKEN, *progress]
    odd_status = doc(text, status="status" + text)
    page = {"jobs": [doc(text), odd_status, failed(text)], "total": 3, "nextOffset": None}
    mock.get("/api/jobs").respond(200, json=page)
    mock.get("/api/jobs/j1").mock(
        side_effect=[
            httpx.Response(200, json=odd_status, headers={"Retry-After": "0"}),
            httpx.Response(200, json=doc(text), headers={"Retry-After": "0"}),
            httpx.Response(200, json=failed(text)),
        ]
        * 3
    )
    mock.get("/api/jobs/j1/events").respond(
        200,
        content=sse(
            ("status", {"status": "status" + text, "progress": {"current": 1, "total": 4}}),
            (wire_name("x-" + text), {"status": "processing"}),
            ("progress", {"current": 2, "total": 4, "message": text}),
            ("complete", {"status": "failed", "error": failed(text)["error"], "job": failed(text)}),
        ),
        headers={"Content-Type": "text/event-stream"},
    )

    code, out, err = run(*common, "list", tty=tty)
    assert code == 0, err
    assert_safe(out + err, tty=tty)
    plain_out = RICH_OWN.sub("", out)
    assert clean(hostile_id(text)) in plain_out or clean(hostile_id(text))[:12] in plain_out
    if text.startswith("["):
        assert text.split("]")[0] + "]" in plain_out  # markup shown as text, not parsed

    code, out, err = run(*common, "status", "j1", tty=tty)
    assert code == 0, err
    assert_safe(out + err, tty=tty)
    assert f"job:      {clean(hostile_id(text))}" in out and f"type:     {clean('t' + text)}" in out

    code, out, err = run(*common, "wait", "j1", "--strategy", "poll", tty=tty)
    assert code == 3, err
    assert_safe(out + err, tty=tty)
    if not tty:
        assert clean(text) in err  # the progress message, on a plain line

    code, out, err = run(*common, "events", "j1", tty=tty)
    assert code == 3, err
    assert_safe(out + err, tty=tty)
    assert clean(wire_name("x-" + text)) in out


@pytest.mark.parametrize("name", list(HOSTILE))
def test_problem_json_detail_and_title_are_escaped_in_error_lines(
    run: Any, mock: respx.MockRouter, name: str
) -> None:
    text = HOSTILE[name]
    problem = {"type": "about:blank", "title": text, "detail": text, "status": 404}
    mock.get("/api/jobs/j1").respond(404, json=problem)
    mock.post("/api/jobs").respond(400, json={**problem, "status": 400, "detail": None})
    for argv, want in ((["status", "j1"], 6), (["submit", "report"], 9)):
        code, out, err = run("--url", API, "--token", TOKEN, *argv)
        assert code == want, err
        assert_safe(out + err, tty=False)
        assert len(err.splitlines()) == 1 and clean(text) in err


def test_result_file_names_in_hints_are_escaped(
    run: Any, mock: respx.MockRouter, tmp_path: Path
) -> None:
    done = doc("", status="completed", jobId="j1", resultUrl=f"{API}/api/jobs/j1/result")
    mock.get("/api/jobs/j1").respond(200, json=done)
    mock.get("/api/jobs/j1/events").respond(404)
    name = "r%E2%80%AEtxt.exe%1B%5B2J.bin"  # U+202E and ESC[2J, percent-encoded
    mock.get("/api/jobs/j1/result").respond(
        200,
        content=b"data",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )
    for tty in (False, True):
        code, out, err = run(
            "--url", API, "--token", TOKEN, "wait", "j1", "-o", str(tmp_path), "--force", tty=tty
        )
        assert code == 0, err
        assert_safe(out + err, tty=tty)
        assert "saved the result of j1 to" in RICH_OWN.sub("", err)
