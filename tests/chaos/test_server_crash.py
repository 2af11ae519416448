"""Server crash: kill -9 the server while CLI and SDK clients wait, start it again on the same db.

Every waiting client must ride through the outage (reconnect, resume its event
stream, keep polling) and end with the exit code of its job's real outcome; no
job may be lost, and none may run to completion twice (its event history holds
exactly one ``complete``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobctl import AsyncJobsClient, JobsClient
from jobctl._core.flows.follow import Strategy
from jobctl.testing import ReferenceServer

from .expected import Spec, check_result, check_terminal
from .support import Admin, assert_clean, cli_env, finish, spawn

pytestmark = pytest.mark.integration

STRATEGIES: tuple[Strategy, ...] = ("auto", "sse", "poll")
CANCEL = Spec("sleep", {"seconds": 60, "steps": 60}, "cancelled", 5)
SIZES = [
    pytest.param(6, 8, id="ci-6cli-8sdk"),
    pytest.param(24, 48, id="big-24cli-48sdk", marks=pytest.mark.slow),
]


def crash_specs(count: int, salt: int) -> list[Spec]:
    """Jobs that are still running when the server dies (and one that fails)."""
    specs: list[Spec] = []
    for i in range(count):
        n = i + salt
        kind = i % 4
        if kind == 0:
            specs.append(Spec("sleep", {"seconds": 2.0 + n % 3 / 2, "steps": 20}))
        elif kind == 1:
            specs.append(Spec("report", {"pages": 30, "format": "pdf", "secondsPerPage": 0.08}))
        elif kind == 2:
            specs.append(
                Spec("fail", {"code": f"crash_{n}", "afterSeconds": 2.5}, "failed", 3, f"crash_{n}")
            )
        else:
            specs.append(Spec("blob", {"sizeBytes": 3_000_000 + n, "seed": n}))
    return specs


@pytest.fixture
def server() -> Iterator[ReferenceServer]:
    """A server that runs every job at once (enough workers), so all are mid-run at the crash."""
    with ReferenceServer(args=("--quiet", "--workers", "64")) as s:
        yield s


async def sdk_waits(
    server: ReferenceServer, specs: list[Spec], ids: list[str], out: Path
) -> list[Any]:
    """Wait for each job (async client, every 3rd via the sync client in a thread) and download."""

    def sync_one(i: int) -> Any:
        with JobsClient(server.url, server.token) as client:
            final = client.wait(ids[i], timeout=90, strategy=STRATEGIES[i % 3])
            if final.status == "completed":
                client.download(final, out / f"sdk-{i}.out")
            return final

    async def one(client: AsyncJobsClient, i: int) -> Any:
        if i % 3 == 2:
            return await asyncio.to_thread(sync_one, i)
        final = await client.wait(ids[i], timeout=90, strategy=STRATEGIES[i % 3])
        if final.status == "completed":
            await client.download(final, out / f"sdk-{i}.out")
        return final

    async with AsyncJobsClient(server.url, server.token) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(len(specs)))))


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("n_cli", "n_sdk"), SIZES)
def test_clients_ride_through_a_kill_9(
    server: ReferenceServer, tmp_path: Path, n_cli: int, n_sdk: int
) -> None:
    admin = Admin(server)
    env = cli_env(server.url, server.token, tmp_path)
    cli_specs = [CANCEL, *crash_specs(n_cli - 1, 0)]
    sdk_specs = crash_specs(n_sdk, 100)
    port = server.port
    try:
        # the job the admin cancels after the restart: submitted here first, the CLI's
        # submit with the same key replays it (so its id is known before the CLI exits)
        cancel = admin.http.post(
            "/api/jobs",
            json={"type": CANCEL.type, "input": CANCEL.input},
            headers={"Idempotency-Key": "crash-0", "Authorization": f"Bearer {server.token}"},
        )
        cancel_id = cancel.json()["jobId"]
        procs = []
        for i, spec in enumerate(cli_specs):
            args = ["submit", *spec.cli_args(), "--wait", "--timeout", "90"]
            args += ["-o", str(tmp_path / f"cli-{i}.out"), "--idempotency-key", f"crash-{i}"]
            procs.append(spawn([*args, "--strategy", STRATEGIES[i % 3]], env, tmp_path))
        with JobsClient(server.url, server.token) as sdk:
            sdk_ids = [sdk.submit(s.type, s.input).id for s in sdk_specs]

        async def waiters() -> list[Any]:
            return await sdk_waits(server, sdk_specs, sdk_ids, tmp_path)

        loop = asyncio.new_event_loop()
        sdk_future = loop.run_in_executor(None, lambda: asyncio.run(waiters()))
        # crash once every job exists and the CLI processes are following theirs
        deadline = time.monotonic() + 60
        while len(admin.all_jobs()) < len(cli_specs) + len(sdk_specs):
            assert time.monotonic() < deadline, "the clients never submitted"
            time.sleep(0.1)
        time.sleep(1.0)  # let them reach their streams / polls
        running = [j for j in admin.all_jobs() if j["status"] == "processing"]
        assert running, "nothing was running at the crash"
        server.kill()
        time.sleep(2.0)  # down for a while: clients see refused connections
        server.start()
        assert server.port == port
        admin.http.delete(f"/api/jobs/{cancel_id}").raise_for_status()

        cli_results = [finish(p, timeout=120) for p in procs]
        sdk_finals = loop.run_until_complete(sdk_future)
        loop.close()

        seen: set[str] = set()
        for i, (spec, res) in enumerate(zip(cli_specs, cli_results, strict=True)):
            assert_clean(res)
            assert res.code == spec.exit_code, (spec, res.code, res.err[-2000:])
            job_id = res.out.splitlines()[0].strip()
            seen.add(job_id)
            body = admin.job(job_id)
            check_terminal(spec, body)
            if spec.status == "completed":
                check_result(spec, body, (tmp_path / f"cli-{i}.out").read_bytes())
        for i, (spec, job_id, final) in enumerate(zip(sdk_specs, sdk_ids, sdk_finals, strict=True)):
            seen.add(job_id)
            assert final.status == spec.status
            body = admin.job(job_id)
            check_terminal(spec, body)
            if spec.status == "completed":
                check_result(spec, body, (tmp_path / f"sdk-{i}.out").read_bytes())
        jobs = admin.all_jobs()
        assert {j["jobId"] for j in jobs} == seen and len(jobs) == len(seen)
        assert cancel_id in seen
        restarted = 0
        for job_id in seen:
            events = admin.assert_ran_once(job_id)
            restarted += any(json.loads(e.data).get("restarted") for e in events if e.data)
        # the jobs that were mid-run at the crash were run again from the start, once
        assert restarted >= len(running) > 0, (restarted, len(running))
    finally:
        admin.close()
