"""Result files are never lost, corrupted or put where they don't belong (hardening, class 1).

Against the real reference server: concurrent writers to one path (processes and
coroutines), special targets written straight through (devices, FIFOs,
``/dev/stdout``, ``/dev/fd/N``), symlinks followed, local failures (a full disk,
a file too large, a directory that refuses files) reported with their own exit
code and nothing left behind, and ``-o`` checked before the job is submitted.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import resource
import signal
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl import AsyncJobsClient, JobsClient, OutputError
from jobctl.testing import ReferenceServer

from .support import JOBCTL, cli_env, run_cli, spawn

SIZE = 3_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet",)) as s:
        yield s


@pytest.fixture(scope="module")
def blob(server: ReferenceServer) -> tuple[str, str]:
    """A completed ``blob`` job: (id, sha256 of its result)."""
    with JobsClient(server.url, server.token) as client:
        job = client.run("blob", {"sizeBytes": SIZE, "seed": 3}, timeout=60)
    return job.job_id, job.output["sha256"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if ".part" in p.name or ".jobctl" in p.name)


def test_concurrent_cli_writers_never_corrupt_one_file(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path
) -> None:
    job_id, digest = blob
    env = cli_env(server.url, server.token, tmp_path)
    target = tmp_path / "same.bin"
    for _ in range(2):  # twice: the second round also meets the finished file
        procs = [spawn(["result", job_id, "-o", str(target)], env, tmp_path) for _ in range(3)]
        results = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in procs]
        codes = [code for code, _ in results]
        assert set(codes) <= {0, 10}, results
        assert 0 in codes
        for code, err in results:
            if code == 10:
                assert "being written by another download" in err, err
        assert target.stat().st_size == SIZE and sha(target) == digest
        assert leftovers(tmp_path) == []


def test_concurrent_sdk_downloads_to_one_path(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path
) -> None:
    job_id, digest = blob
    target = tmp_path / "gathered.bin"

    async def main() -> list[object]:
        async with AsyncJobsClient(server.url, server.token) as client:
            return await asyncio.gather(
                *(client.download(job_id, target) for _ in range(4)), return_exceptions=True
            )

    results = asyncio.run(main())
    wins = [r for r in results if r == target]
    losses = [r for r in results if isinstance(r, OutputError)]
    assert wins and len(wins) + len(losses) == 4, results
    assert sha(target) == digest and leftovers(tmp_path) == []


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_dev_null_is_written_through(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path, force: list[str]
) -> None:
    before = set(os.listdir("/dev"))
    result = run_cli(
        ["result", blob[0], "-o", "/dev/null", *force],
        cli_env(server.url, server.token, tmp_path),
        tmp_path,
    )
    assert result.code == 0, result.err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device, not a file
    assert set(os.listdir("/dev")) == before


def test_dev_stdout_and_dash_give_the_same_bytes(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path
) -> None:
    env = cli_env(server.url, server.token, tmp_path)
    for target in ("-", "/dev/stdout"):
        raw = subprocess.run(
            [JOBCTL, "result", blob[0], "-o", target], capture_output=True, env=env, timeout=60
        )
        assert raw.returncode == 0, raw.stderr
        assert hashlib.sha256(raw.stdout).hexdigest() == blob[1]


def test_a_fifo_and_a_dev_fd_pipe_are_written_through(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path
) -> None:
    env = cli_env(server.url, server.token, tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = run_cli(["result", blob[0], "-o", str(fifo)], env, tmp_path)
    reader.join(30)
    assert result.code == 0, result.err
    assert hashlib.sha256(got[0]).hexdigest() == blob[1]
    # `jobctl result ID -o >(sha256sum)`: the shell hands over /dev/fd/N of a pipe
    rfd, wfd = os.pipe()
    proc = subprocess.Popen(
        [JOBCTL, "result", blob[0], "-o", f"/dev/fd/{wfd}"],
        env=env,
        pass_fds=(wfd,),
        stderr=subprocess.PIPE,
    )
    os.close(wfd)
    with os.fdopen(rfd, "rb") as pipe:
        data = pipe.read()
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    assert hashlib.sha256(data).hexdigest() == blob[1]
    assert leftovers(tmp_path) == []


def test_symlinks_are_followed(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path
) -> None:
    env = cli_env(server.url, server.token, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = elsewhere / "real.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    result = run_cli(["result", blob[0], "-o", str(link), "--force"], env, tmp_path)
    assert result.code == 0, result.err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert sha(real) == blob[1]
    dangling = tmp_path / "dangling.bin"
    dangling.symlink_to(elsewhere / "new.bin")
    assert run_cli(["result", blob[0], "-o", str(dangling)], env, tmp_path).code == 0
    assert dangling.is_symlink() and sha(elsewhere / "new.bin") == blob[1]
    assert leftovers(tmp_path) == [] and leftovers(elsewhere) == []


def test_a_full_disk_is_a_local_error_with_nothing_left(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path
) -> None:
    env = cli_env(server.url, server.token, tmp_path)
    full = run_cli(["result", blob[0], "-o", "/dev/full"], env, tmp_path)
    assert full.code == 10 and "no space left" in full.err and "/dev/full" in full.err
    with open("/dev/full", "wb") as devfull:
        raw = subprocess.run(
            [JOBCTL, "result", blob[0], "-o", "-"],
            stdout=devfull,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            text=True,
        )
    assert raw.returncode == 10, raw.stderr
    assert "Traceback" not in raw.stderr and "no space left" in raw.stderr

    def small_files() -> None:  # a file may not grow past 1 MB: like a disk filling up
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    big = subprocess.run(
        [JOBCTL, "result", blob[0], "-o", str(tmp_path / "big.bin")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        preexec_fn=small_files,
    )
    assert big.returncode == 10, big.stderr
    assert "big.bin" in big.stderr and "Traceback" not in big.stderr
    assert leftovers(tmp_path) == [] and not (tmp_path / "big.bin").exists()


def test_a_directory_that_refuses_files(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path
) -> None:
    # /proc refuses new files even to root (a chmod would not stop root)
    result = run_cli(
        ["result", blob[0], "-o", "/proc/jobctl-test.bin"],
        cli_env(server.url, server.token, tmp_path),
        tmp_path,
    )
    assert result.code == 10, result.err
    assert "/proc/jobctl-test.bin" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(
    ("output", "says"),
    [
        ("missing-dir/x.pdf", "does not exist"),
        ("/dev/null/x.pdf", "is not a directory"),
        ("plain-file/x.pdf", "is not a directory"),
    ],
)
def test_o_is_checked_before_the_job_is_submitted(
    server: ReferenceServer, tmp_path: Path, output: str, says: str
) -> None:
    (tmp_path / "plain-file").write_text("x")
    env = cli_env(server.url, server.token, tmp_path)
    with JobsClient(server.url, server.token) as client:
        before = client.list(limit=1).total
        result = run_cli(["submit", "echo", "--wait", "-o", output], env, tmp_path)
        assert result.code == 2 and says in result.err, result.err
        assert client.list(limit=1).total == before  # nothing was submitted
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in ("cfg", "state")) == [
        "plain-file"
    ]


def test_a_different_file_is_kept_and_nothing_is_left_behind(
    server: ReferenceServer, blob: tuple[str, str], tmp_path: Path
) -> None:
    env = cli_env(server.url, server.token, tmp_path)
    target = tmp_path / "x.bin"
    target.write_bytes(b"precious")
    refused = run_cli(["result", blob[0], "-o", str(target)], env, tmp_path)
    assert refused.code == 2 and "exists and differs" in refused.err and "--force" in refused.err
    assert target.read_bytes() == b"precious" and leftovers(tmp_path) == []
