"""Every command against a set of broken environments: never exit 1 (hardening, class 8).

Exit 1 means "a bug in jobctl". A server that is down or answers garbage, a URL or
CA bundle that is wrong, a config file that can't be read or written, a full
stdout, a working directory that refuses files: each is the user's or the
environment's doing and must end in one ``error:`` line and its documented code
(2 usage, 8 unavailable, 10 local problem), never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl import JobsClient
from jobctl.testing import ReferenceServer

from .rawserver import RawServer, Reply, Seen
from .support import JOBCTL, cli_env, run_cli


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet",)) as s:
        yield s


@pytest.fixture(scope="module")
def done_job(server: ReferenceServer) -> str:
    with JobsClient(server.url, server.token) as client:
        return client.run("echo", {"n": 1}, timeout=30).job_id


def html(req: Seen) -> Reply:
    return Reply(200, b"<html><body>Welcome to nginx!</body></html>", {"Content-Type": "text/html"})


def always_500(req: Seen) -> Reply:
    return Reply(500, b"Internal Server Error", {"Content-Type": "text/plain"})


def commands(job: str) -> list[list[str]]:
    return [
        ["submit", "echo"],
        ["submit", "echo", "--wait", "--timeout", "3"],
        ["submit", "echo", "--wait", "-o", "out.json", "--timeout", "3"],
        ["status", job],
        ["wait", job, "--timeout", "3"],
        ["events", job],
        ["cancel", job],
        ["retry", job],
        ["list"],
        ["result", job, "-o", "r.json"],
        ["config", "set", "url", "http://example.test"],
        ["config", "list"],
        ["webhook", "verify", "--secret", "s", "body.json"],
    ]


# environment name -> (what to change, the exit codes any command may end with)
ENVIRONMENTS: dict[str, tuple[dict[str, str], set[int]]] = {
    "server down": ({"JOBCTL_URL": "http://127.0.0.1:9"}, {0, 2, 3, 8}),
    "invalid port": ({"JOBCTL_URL": "http://127.0.0.1:99999"}, {0, 2, 3}),
    "no scheme": ({"JOBCTL_URL": "example.com"}, {0, 2, 3}),
    "token a header can't carry": ({"JOBCTL_TOKEN": "a\nb"}, {0, 2, 3}),
    "bogus progress": ({"JOBCTL_PROGRESS": "bogus"}, {0, 2, 3}),
    "bogus default timeout": ({"JOBCTL_TIMEOUT": "soon"}, {0, 2, 3}),
    "config dir can't exist": ({"JOBCTL_CONFIG": "/proc/jobctl/config.toml"}, {0, 3, 5, 9, 10}),
    "config file not TOML": ({"@config": "url = ["}, {0, 2, 3}),
    "ledger dir can't exist": ({"JOBCTL_STATE_DIR": "/proc/jobctl"}, {0, 3, 5, 9}),
    "no HOME": ({"-HOME": ""}, {0, 3, 5, 9}),
    "server answers HTML": ({"@server": "html"}, {0, 2, 3, 8}),
    "server answers 500": ({"@server": "500"}, {0, 2, 3, 8}),
}


SERVER_FAILURES = ("server down", "server answers 500")
PARSED_EARLY = (
    "invalid port",
    "no scheme",
    "token a header can't carry",
    "bogus progress",
    "bogus default timeout",
    "config file not TOML",
)
"""Settings refused while the run's state is made, before any command's own work: in CI
one command of each kind (a submit with --wait, a read, a write, config) stands for all."""
CI_SAMPLE = ("submit", "status", "cancel", "config")
RETRIED_ALIKE = ("cancel", "retry", "list", "events")


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_no_command_exits_1_in_a_broken_environment(
    name: str, server: ReferenceServer, done_job: str, tmp_path: Path, slow: bool
) -> None:
    changes, allowed = ENVIRONMENTS[name]
    raw: RawServer | None = None
    url = server.url
    if changes.get("@server"):
        raw = RawServer(html if changes["@server"] == "html" else always_500).start()
        url = raw.url
    try:
        env = cli_env(url, server.token, tmp_path)
        (tmp_path / "body.json").write_text(json.dumps({"event": "completed"}))
        for key, value in changes.items():
            if key == "@config":
                Path(env["JOBCTL_CONFIG"]).parent.mkdir(parents=True, exist_ok=True)
                Path(env["JOBCTL_CONFIG"]).write_text(value)
            elif key.startswith("-"):
                env.pop(key[1:], None)
            elif not key.startswith("@"):
                env[key] = value
        for args in commands(done_job):
            if name == "server down" and args[0] == "events":
                continue  # events has no deadline: it keeps retrying (bounded, over a minute)
            if name in SERVER_FAILURES and args[0] in RETRIED_ALIKE and not slow:
                continue  # each spends ~6 s in the same retries as `status`: -m slow runs them
            if name in PARSED_EARLY and args[0] not in CI_SAMPLE and not slow:
                continue
            result = run_cli(args, env, tmp_path, timeout=60)
            where = f"{name}: jobctl {' '.join(args)} -> {result.code}\n{result.err[-1500:]}"
            assert result.code != 1, where
            assert "Traceback" not in result.err + result.out, where
            assert result.code in allowed, where
            if result.code:
                assert result.err.rstrip().splitlines()[-1].startswith("error: "), where
    finally:
        if raw is not None:
            raw.stop()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["list"], 10),
        (["status", "{job}"], 10),
        (["result", "{job}", "-o", "-"], 10),
        (["--json", "wait", "{job}"], 10),
    ],
)
def test_a_full_stdout_is_a_local_problem(
    server: ReferenceServer, done_job: str, tmp_path: Path, args: list[str], code: int
) -> None:
    import subprocess

    argv = [a.replace("{job}", done_job) for a in args]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [JOBCTL, *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(server.url, server.token, tmp_path),
            timeout=60,
        )
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    last = proc.stderr.rstrip().splitlines()[-1]
    assert last.startswith("error: ") and "no space left on the device" in last, last


def test_a_working_directory_that_refuses_files(
    server: ReferenceServer, done_job: str, tmp_path: Path
) -> None:
    result = run_cli(
        ["result", done_job], cli_env(server.url, server.token, tmp_path), Path("/proc")
    )
    assert result.code == 10 and "/proc" in result.err and "Traceback" not in result.err
