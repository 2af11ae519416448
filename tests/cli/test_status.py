"""``jobctl status`` against a real server: its exit codes, one-line errors, and what it imports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jobctl import JobsClient
from jobctl.cli.app import main
from jobctl.cli.state import AppState
from jobctl.testing import ReferenceServer


@pytest.fixture(autouse=True)
def _restore_pydantic_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` switches pydantic's plugins off in the process: undo it after each test."""
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (RuntimeError("boom sekrit-tok"), 1, "error: unexpected error: RuntimeError: boom ***"),
        (KeyboardInterrupt(), 130, "error: interrupted"),
    ],
)
def test_errors_are_one_line_and_tracebacks_only_with_verbose(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    raised: BaseException,
    code: int,
    line: str,
) -> None:
    def broken(self: AppState) -> object:
        raise raised

    monkeypatch.setattr(AppState, "client", broken)
    assert main(["status", "J", "--token", "sekrit-tok"]) == code
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(line) and len(err.splitlines()) == 1
    assert main(["status", "J", "-v", "--token", "sekrit-tok"]) == code
    out, err = capsys.readouterr()
    assert "sekrit-tok" not in err and err.splitlines()[-1].startswith(line)
    assert ("Traceback" in err) == (code == 1)


@pytest.fixture
def job_id(reference_server_session: ReferenceServer) -> str:
    server = reference_server_session
    with JobsClient(base_url=server.url, token=server.token) as client:
        job = client.submit("echo", {"hello": "world"})
        return client.wait(job.job_id, timeout=30).job_id


@pytest.mark.integration
def test_status_answers_and_exit_codes(
    reference_server_session: ReferenceServer,
    job_id: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = reference_server_session
    monkeypatch.setenv("JOBCTL_URL", server.url)
    monkeypatch.setenv("JOBCTL_TOKEN", server.token)
    status_url = f"{server.url}/api/jobs/{job_id}"
    cases = [
        (["status", job_id], 0, f"{job_id}"),
        (["status", job_id, "--json"], 0, '"status": "completed"'),
        (["-q", "status", status_url], 0, "completed"),
        (["status", "no-such-job"], 6, "not found (404)"),
        (["status", job_id, "--token", "wrong-token"], 4, "authentication refused"),
        (["status", job_id, "--url", "http://127.0.0.1:9"], 8, "cannot reach the server"),
        (["status", " "], 2, "missing JOB"),
        (["status", "--last"], 2, "no jobs in the local ledger"),
        (["status", job_id, "--profile", "nope"], 2, "unknown profile 'nope'"),
    ]
    for args, expected, needle in cases:
        code = main(args)
        out, err = capsys.readouterr()
        assert code == expected, (args, out, err)
        assert needle in (err if code else out), (args, out, err)
        assert server.token not in out + err
        if expected:
            assert out == "" and len(err.splitlines()) == 1, (args, err)


@pytest.mark.integration
def test_status_imports_only_what_it_uses(
    reference_server_session: ReferenceServer, job_id: str
) -> None:
    probe = (
        "import sys\n"
        "from jobctl.cli.app import main\n"
        "code = main(sys.argv[1:])\n"
        "loaded = {m for m, mod in sys.modules.items() if mod is not None}\n"
        "print(code, ' '.join(sorted(loaded)))\n"
    )
    server = reference_server_session
    env = {**os.environ, "JOBCTL_URL": server.url, "JOBCTL_TOKEN": server.token}
    out = subprocess.run(
        [sys.executable, "-c", probe, "status", job_id, "-q"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.splitlines()
    assert out[0] == "completed"
    code, *modules = out[1].split()
    assert code == "0"
    commands = {m for m in modules if m.startswith("jobctl.cli.commands.")}
    assert commands == {"jobctl.cli.commands._common", "jobctl.cli.commands.status"}
    tops = {m.split(".")[0] for m in modules}
    assert not tops & {"rich", "pygments", "asyncio", "click", "mock_server"}
    assert "jobctl._io.aio" not in modules
