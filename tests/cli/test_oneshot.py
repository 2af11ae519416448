"""``jobctl status`` without Typer: it takes only the plain forms, and answers as Typer would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobctl._io.sync import JobsClient
from jobctl.cli.oneshot import parse_status, run_fast
from jobctl.cli.root import main as typer_main
from jobctl.cli.state import AppState, GlobalOptions
from jobctl.testing import ReferenceServer


@pytest.fixture(autouse=True)
def _restore_pydantic_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run_fast`` switches pydantic's plugins off in the process: undo it after each test."""
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)


@pytest.mark.parametrize(
    ("args", "options", "job", "last"),
    [
        (["status", "J"], GlobalOptions(), "J", False),
        (["--json", "status", "J"], GlobalOptions(json=True), "J", False),
        (["status", "J", "--json", "-q"], GlobalOptions(json=True, quiet=True), "J", False),
        (["status", "--last", "-v"], GlobalOptions(verbose=True), None, True),
        (
            ["--url=http://h:1", "status", "J", "--token", "T", "--progress", "plain"],
            GlobalOptions(url="http://h:1", token="T", progress="plain"),
            "J",
            False,
        ),
        (["--profile", "status", "status", "J"], GlobalOptions(profile="status"), "J", False),
        (
            ["status", "J", "--ca-bundle", "ca.pem", "--insecure"],
            GlobalOptions(ca_bundle=Path("ca.pem"), insecure=True),
            "J",
            False,
        ),
        (["status", "J", "--url", "a", "--url", "b"], GlobalOptions(url="b"), "J", False),
    ],
)
def test_plain_forms_are_parsed_like_click_parses_them(
    args: list[str], options: GlobalOptions, job: str | None, last: bool
) -> None:
    assert parse_status(args) == (options, job, last)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["list"],
        ["status"],
        ["status", "a", "b"],
        ["status", ""],
        ["status", "-x"],
        ["status", "J", "--"],
        ["status", "J", "-qv"],
        ["status", "J", "--url"],
        ["status", "J", "--url", "--json"],
        ["status", "J", "--url="],
        ["status", "J", "--json=1"],
        ["--last", "status"],
        ["status", "J", "--progress", "fancy"],
        ["status", "J", "--help"],
        ["status", "J", "--version"],
        ["submit", "status"],
    ],
)
def test_everything_else_is_left_to_typer(args: list[str]) -> None:
    assert parse_status(args) is None
    assert run_fast(args) is None


def test_completion_requests_are_left_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_JOBCTL_COMPLETE", "complete_bash")
    assert run_fast(["status", "J"]) is None


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
    assert run_fast(["status", "J", "--token", "sekrit-tok"]) == code
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(line) and len(err.splitlines()) == 1
    assert run_fast(["status", "J", "-v", "--token", "sekrit-tok"]) == code
    out, err = capsys.readouterr()
    assert "sekrit-tok" not in err and err.splitlines()[-1].startswith(line)
    assert ("Traceback" in err) == (code == 1)


@pytest.fixture
def job_id(reference_server_session: ReferenceServer) -> str:
    server = reference_server_session
    with JobsClient(base_url=server.url, token=server.token) as client:
        job = client.submit("echo", {"hello": "world"})
        return client.wait(job.job_id, timeout=30).job_id


def _both(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    assert parse_status(args) is not None
    code = run_fast(args)
    assert code is not None
    fast = (code, *capsys.readouterr())
    slow = (typer_main(args), *capsys.readouterr())
    return fast, slow


@pytest.mark.integration
def test_fast_path_answers_exactly_as_the_typer_command(
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
        (["status", job_id], 0),
        (["status", job_id, "--json"], 0),
        (["-q", "status", status_url], 0),
        (["status", "no-such-job"], 6),
        (["status", job_id, "--token", "wrong-token"], 4),
        (["status", job_id, "--url", "http://127.0.0.1:9"], 8),
        (["status", " "], 2),
        (["status", "--last"], 2),
        (["status", job_id, "--profile", "nope"], 2),
    ]
    for args, expected in cases:
        fast, slow = _both(capsys, args)
        assert fast == slow, args
        assert fast[0] == expected, (args, fast)
        assert server.token not in fast[1] + fast[2]
        if expected:
            assert fast[1] == "" and len(fast[2].splitlines()) == 1, fast


@pytest.mark.integration
def test_status_imports_neither_typer_nor_click_nor_rich(
    reference_server_session: ReferenceServer, job_id: str
) -> None:
    probe = (
        "import sys\n"
        "from jobctl.cli.app import main\n"
        "code = main(sys.argv[1:])\n"
        "print(code, ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
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
    assert not set(modules) & {"typer", "click", "rich", "pygments"}
