"""The Redis deployment's command line: flag errors, an unreachable store, worker hand-over."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from jobctl.testing import RedisServer, ReferenceServer, ReferenceWorker

from .conftest import assert_problem, client, submit, wait_terminal


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--workers", "0"), "--workers 0 needs --store redis://"),
        (("--store", "http://127.0.0.1:6379"), "--store must look like redis://HOST:PORT/DB"),
        (("--store", "redis://127.0.0.1:1/0", "--visibility-timeout", "0.1"), "at least 0.5"),
        (("worker",), "a worker process needs --store"),
        (("worker", "--store", "redis://127.0.0.1:1/0", "--workers", "0"), "--workers 1 or more"),
    ],
)
def test_bad_flags_are_one_line_errors(argv: tuple[str, ...], message: str) -> None:
    done = _run(*argv, "--port", "0")
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and message in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""


@pytest.mark.parametrize("worker", [False, True])
def test_unreachable_redis_is_one_line_without_the_password(worker: bool) -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{_dead_port()}/0"
    argv = ("worker",) if worker else ()
    done = _run(*argv, "--store", url, "--port", "0")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot open the Redis store redis://***@127.0.0.1:")
    assert done.stderr.count("\n") == 1 and "hunter2" not in done.stderr + done.stdout


def test_jobctl_server_worker_forwards_to_the_worker_process() -> None:
    jobctl = Path(sys.executable).with_name("jobctl")
    done = subprocess.run(
        [str(jobctl), "server", "worker", "--store", f"redis://127.0.0.1:{_dead_port()}/0"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1 and "cannot open the Redis store" in done.stderr


def test_a_stopped_worker_hands_its_job_over_at_once(redis_url: str, tmp_path: Path) -> None:
    # a visibility timeout far beyond the test: only the released claim lets the job go on
    common = ("--results-dir", str(tmp_path), "--visibility-timeout", "600")
    api = ReferenceServer(store=redis_url, args=("--quiet", "--workers", "0", *common))
    with api, client(api) as c:
        first = ReferenceWorker(redis_url, redis_prefix=api.redis_prefix, workers=1, args=common)
        with first:
            job = submit(c, "sleep", seconds=1.0, steps=4)
            for _ in range(50):
                body = c.get(f"/api/jobs/{job}", params={"wait": 5, "progress": 1}).json()
                if (body.get("progress") or {}).get("current", 0) >= 1:
                    break
        # SIGTERM'd: its claim was released, so the next worker runs the job again
        second = ReferenceWorker(redis_url, redis_prefix=api.redis_prefix, workers=1, args=common)
        with second:
            done = wait_terminal(c, job, limit=10)
        assert done["status"] == "completed" and done["progress"]["current"] == 4


def test_redis_going_away_answers_503_not_500(redis_url: str) -> None:
    # its own redis-server (redis_url only makes the test skip/fail like the others)
    with (
        RedisServer() as redis,
        ReferenceServer(store=redis.url, args=("--quiet",)) as api,
        client(api) as c,
    ):
        job = submit(c, "echo", x=1)
        redis.stop()
        r = c.get(f"/api/jobs/{job}")
        assert_problem(r, 503)
        assert r.headers["Retry-After"] == "1"
        assert c.get("/healthz").status_code == 200
