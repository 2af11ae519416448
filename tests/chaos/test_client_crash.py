"""Client crash: kill -9 ``jobctl`` mid-request, mid-wait and mid-download, then run it again.

- A ``submit --wait`` killed right after its POST reached the server (the server
  holds the answer back with the ``slow`` fault) or while it waits: the same
  command with the same ``--idempotency-key`` prints the same job id, follows it
  to the end and exits 0; the server holds one job per key.
- A ``result -o`` killed half-way through a large blob: the next run resumes the
  ``.part`` file with ``Range`` and only the missing bytes cross the wire
  (counted by a proxy in front of the server; the server logs a 206).
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl import JobsClient
from jobctl.testing import ReferenceServer

from .expected import Spec, blob_bytes, check_result
from .proxy import CountingProxy
from .support import Admin, assert_clean, cli_env, run_cli, spawn

pytestmark = pytest.mark.integration

JOB = Spec("sleep", {"seconds": 1.0, "steps": 5})


@pytest.fixture
def server() -> Iterator[ReferenceServer]:
    """A plain server; the tests switch the ``slow`` fault on and off at run time."""
    with ReferenceServer(args=("--slow-delay", "2", "--workers", "8")) as s:
        yield s


def _posts(admin: Admin) -> int:
    return int(admin.stats()["routes"].get("POST /api/jobs", 0))


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def _rerun_and_check(
    server: ReferenceServer, admin: Admin, home: Path, key: str, job_id: str | None
) -> str:
    env = cli_env(server.url, server.token, home)
    out = home / f"{key}.json"
    args = ["submit", *JOB.cli_args(), "--wait", "-o", str(out), "--idempotency-key", key]
    res = run_cli(args, env, home)
    assert_clean(res)
    assert res.code == 0, res.err
    got = res.out.strip()
    if job_id is not None:
        assert got == job_id
    check_result(JOB, admin.job(got), out.read_bytes())
    return got


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "count", [pytest.param(3, id="ci-3"), pytest.param(12, id="big-12", marks=pytest.mark.slow)]
)
def test_killed_after_the_request_was_sent(
    server: ReferenceServer, tmp_path: Path, count: int
) -> None:
    admin = Admin(server)
    env = cli_env(server.url, server.token, tmp_path)
    try:
        admin.http.put("/api/_faults", json={"faultRate": 1.0, "faults": ["slow"], "faultSeed": 1})
        for i in range(count):
            before = _posts(admin)
            args = ["submit", *JOB.cli_args(), "--wait", "--idempotency-key", f"sent-{i}"]
            proc = spawn(args, env, tmp_path)
            while _posts(admin) == before:  # the POST has reached the server...
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.01)
            _kill(proc)  # ...and its answer (held back 2 s) never arrives
        admin.calm()
        ids = [_rerun_and_check(server, admin, tmp_path, f"sent-{i}", None) for i in range(count)]
        jobs = admin.all_jobs()
        assert len(jobs) == len(set(ids)) == count
        for job_id in ids:
            admin.assert_ran_once(job_id)
    finally:
        admin.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "count", [pytest.param(3, id="ci-3"), pytest.param(12, id="big-12", marks=pytest.mark.slow)]
)
def test_killed_while_waiting(server: ReferenceServer, tmp_path: Path, count: int) -> None:
    admin = Admin(server)
    env = cli_env(server.url, server.token, tmp_path)
    try:
        first: dict[str, str] = {}
        for i in range(count):
            args = ["submit", *JOB.cli_args(), "--wait", "--idempotency-key", f"wait-{i}"]
            proc = spawn(args, env, tmp_path)
            assert proc.stdout is not None
            first[f"wait-{i}"] = proc.stdout.readline().strip()  # the id: it is waiting now
            _kill(proc)
        for key, job_id in first.items():
            _rerun_and_check(server, admin, tmp_path, key, job_id)
        assert len(admin.all_jobs()) == count
    finally:
        admin.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "size",
    [
        pytest.param(12 << 20, id="ci-12MiB"),
        pytest.param(512 << 20, id="big-512MiB", marks=pytest.mark.slow),
    ],
)
def test_killed_download_resumes_with_only_the_rest(
    server: ReferenceServer, tmp_path: Path, size: int
) -> None:
    spec = Spec("blob", {"sizeBytes": size, "seed": 42})
    with JobsClient(server.url, server.token) as client:
        job = client.wait(client.submit(spec.type, spec.input), timeout=300)
    assert job.status == "completed"
    out = tmp_path / "blob.bin"
    rate = size / 3  # the throttled first run would take about 3 s
    with CountingProxy(server.port, rate=rate) as slow:
        env = cli_env(slow.url, server.token, tmp_path)
        proc = spawn(["result", job.id, "-o", str(out)], env, tmp_path)
        part_size = 0
        while part_size < size // 4:
            assert proc.poll() is None, proc.communicate()
            parts = list(tmp_path.rglob("*.part"))
            part_size = parts[0].stat().st_size if parts else 0
            time.sleep(0.02)
        _kill(proc)
    parts = list(tmp_path.rglob("*.part"))
    assert len(parts) == 1 and not out.exists()
    part_size = parts[0].stat().st_size
    assert 0 < part_size < size
    with CountingProxy(server.port) as fast:
        res = run_cli(
            ["result", job.id, "-o", str(out)], cli_env(fast.url, server.token, tmp_path), tmp_path
        )
        assert_clean(res)
        assert res.code == 0, res.err
        sent = fast.downstream
    rest = size - part_size
    assert rest <= sent < rest + 64 * 1024, (sent, rest)  # the rest plus a few headers
    assert not list(tmp_path.rglob("*.part"))
    data = out.read_bytes()
    assert hashlib.sha256(data).hexdigest() == job.output["sha256"]
    if size <= 64 << 20:
        assert data == blob_bytes(42, size)
    assert server.log_path is not None
    assert f"GET /api/jobs/{job.id}/result 206" in server.log_path.read_text()
