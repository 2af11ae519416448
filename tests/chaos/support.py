"""Shared helpers of the chaos suite: run the real ``jobctl`` executable, read the API as admin.

Everything goes over loopback to a real reference server; nothing here is a
mock. ``Admin`` turns fault injection off before it counts, so the checks
themselves never see an injected 503.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from jobctl._core.sse import ServerSentEvent, SSEDecoder
from jobctl.testing import ReferenceServer

JOBCTL = str(Path(sys.executable).with_name("jobctl"))
FAULTS = "503,429,reset,slow,sse-drop"


@dataclass(frozen=True)
class CliResult:
    """A finished ``jobctl`` process.

    Args:
        code: its exit code.
        out: stdout.
        err: stderr.
    """

    code: int
    out: str
    err: str


def cli_env(url: str, token: str | None, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``jobctl`` subprocess: private config and ledger, plain progress.

    Args:
        url: the API base URL.
        token: the bearer token (None: unset).
        home: a private directory for config and state.
        **extra: more variables.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.update(
        JOBCTL_URL=url,
        JOBCTL_CONFIG=str(home / "cfg" / "config.toml"),
        JOBCTL_STATE_DIR=str(home / "state"),
        JOBCTL_PROGRESS="plain",
        PYTHONUNBUFFERED="1",
    )
    if token is not None:
        env["JOBCTL_TOKEN"] = token
    env.update(extra)
    return env


def spawn(args: Sequence[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start ``jobctl ARGS`` with captured stdout/stderr.

    Args:
        args: the arguments after ``jobctl``.
        env: its environment.
        cwd: its working directory.
    """
    return subprocess.Popen(
        [JOBCTL, *args],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 100) -> CliResult:
    """Wait for a spawned ``jobctl`` and collect its streams.

    Args:
        proc: from ``spawn``.
        timeout: seconds before the test fails (the process is then killed).
    """
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"jobctl hung: {proc.args!r}\n{err[-2000:]}") from None
    return CliResult(proc.returncode, out, err)


def run_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 100
) -> CliResult:
    """Run ``jobctl ARGS`` to the end.

    Args:
        args: the arguments after ``jobctl``.
        env: its environment.
        cwd: its working directory.
        timeout: seconds before the test fails.
    """
    return finish(spawn(args, env, cwd), timeout)


def assert_clean(result: CliResult) -> None:
    """No traceback anywhere, and a non-zero exit says why on stderr in one line or more.

    Args:
        result: a finished ``jobctl``.
    """
    text = result.out + result.err
    assert "Traceback" not in text, text[-3000:]
    if result.code != 0:
        assert "error" in result.err.lower() or result.err.strip(), result


def sse_events(raw: bytes) -> list[ServerSentEvent]:
    """Decode a whole SSE body with the project's decoder.

    Args:
        raw: the stream's bytes.
    """
    dec = SSEDecoder()
    return dec.feed(raw) + dec.close()


class Admin:
    """An admin's view of a reference server, for counting and checking after the storm.

    Args:
        server: the reference server.
    """

    def __init__(self, server: ReferenceServer) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {server.admin_token}"},
            timeout=30,
        )

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def calm(self) -> None:
        """Turn fault injection off (``/api/_faults`` itself is never faulted)."""
        r = self.http.put("/api/_faults", json={"faultRate": 0.0, "faults": [], "faultSeed": 0})
        r.raise_for_status()

    def faults(self) -> dict[str, Any]:
        """The fault settings with the count of injected faults per kind."""
        body: dict[str, Any] = self.http.get("/api/_faults").json()
        return body

    def stats(self) -> dict[str, Any]:
        """``GET /api/_stats``."""
        body: dict[str, Any] = self.http.get("/api/_stats").json()
        return body

    def all_jobs(self) -> list[dict[str, Any]]:
        """Every job of every user, following ``nextOffset``."""
        jobs: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = self.http.get("/api/jobs", params={"limit": 100, "offset": offset})
            page.raise_for_status()
            body = page.json()
            jobs += body["jobs"]
            offset = body["nextOffset"]
        return jobs

    def job(self, job_id: str) -> dict[str, Any]:
        """One job's status body."""
        r = self.http.get(f"/api/jobs/{job_id}")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def result(self, job_id: str) -> bytes:
        """A completed job's result bytes, straight from the server."""
        r = self.http.get(f"/api/jobs/{job_id}/result")
        r.raise_for_status()
        return r.content

    def events(self, job_id: str) -> list[ServerSentEvent]:
        """Every event the server holds for a terminal job (replayed from id 0)."""
        r = self.http.get(f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": "0"})
        r.raise_for_status()
        return sse_events(r.content)

    def assert_ran_once(self, job_id: str) -> list[ServerSentEvent]:
        """Assert the job's history has increasing ids and exactly one ``complete`` event.

        Args:
            job_id: the job.
        """
        events = self.events(job_id)
        ids = [int(e.id) for e in events if e.id]
        assert ids == sorted(set(ids)), ids
        assert [e.event for e in events].count("complete") == 1, [e.event for e in events]
        return events

    def wait_status(self, job_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        """Poll until the job reaches ``status`` (fails the test after ``timeout``).

        Args:
            job_id: the job.
            status: the status to wait for.
            timeout: seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            body = self.job(job_id)
            if body["status"] == status or time.monotonic() > deadline:
                assert body["status"] == status, body
                return body
            time.sleep(0.05)


class Listener:
    """``jobctl --json webhook listen`` as a subprocess; both streams read line by line.

    Args:
        home: a private directory (config, state, cwd).
        secrets: the ``--secret`` values.
        extra: more global options, e.g. ``("-v",)``.
    """

    def __init__(self, home: Path, secrets: list[str], extra: Sequence[str] = ()) -> None:
        args = [*extra, "--json", "webhook", "listen", "--port", "0"]
        for s in secrets:
            args += ["--secret", s]
        self.proc = spawn(args, cli_env("http://127.0.0.1:9", None, home), home)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._pumps:
            t.start()
        self.url = ""
        deadline = time.monotonic() + 30
        while not self.url:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if "http://127.0.0.1:" in line:
                self.url = line[line.index("http://") :].split()[0].rstrip("/")

    def _pump(self, stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)
            self.lines.put(line)

    def stop(self) -> tuple[str, str]:
        """Terminate the listener; its (stdout, stderr)."""
        self.proc.terminate()
        self.proc.wait(timeout=10)
        for t in self._pumps:
            t.join(timeout=10)
        return "".join(self.out), "".join(self.err)
