"""Chaos: many CLI processes and SDK clients against a server that fails 30 % of requests.

The server injects 503, 429, connection resets (before and after a submit was
stored), slow answers and dropped event streams. Every logical submit must give
exactly one job (counted through the admin API), each job must end in the
state its type promises, every downloaded result must be byte-identical to what
the type produces, no process may print a traceback, and every exit code must
be the one CLI.md gives for the job's outcome.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobctl import AsyncJobsClient, JobsClient
from jobctl._follow import Strategy
from jobctl.testing import ReferenceServer

from .expected import Spec, check_result, check_terminal, mixed_specs
from .support import FAULTS, Admin, CliResult, assert_clean, cli_env, finish, spawn

pytestmark = pytest.mark.integration

STRATEGIES: tuple[Strategy, ...] = ("auto", "sse", "poll")
SIZES = [
    pytest.param(12, 40, 12, id="ci-12cli-40sdk"),
    pytest.param(48, 200, 16, id="big-48cli-200sdk", marks=pytest.mark.slow),
]


@pytest.fixture
def stormy_server() -> Iterator[ReferenceServer]:
    """A server failing 30 % of /api requests with every kind of fault (seeded)."""
    args = ("--quiet", "--fault-rate", "0.3", "--faults", FAULTS, "--fault-seed", "7")
    with ReferenceServer(args=(*args, "--slow-delay", "0.5", "--workers", "4")) as server:
        yield server


def run_cli_storm(
    server: ReferenceServer, specs: list[Spec], home: Path, parallel: int
) -> list[CliResult]:
    """Run one ``jobctl submit --wait -o`` per spec, at most ``parallel`` at a time."""
    env = cli_env(server.url, server.token, home)
    results: dict[int, CliResult] = {}
    live: dict[int, subprocess.Popen[str]] = {}
    pending = list(enumerate(specs))
    while pending or live:
        while pending and len(live) < parallel:
            i, spec = pending.pop(0)
            args = [
                "submit",
                *spec.cli_args(),
                "--wait",
                "--timeout",
                "120",
                "-o",
                str(home / f"cli-{i}.out"),
                "--idempotency-key",
                f"chaos-cli-{i}",
                "--strategy",
                STRATEGIES[i % 3],
            ]
            live[i] = spawn(args, env, home)
        done = next((i for i, p in live.items() if p.poll() is not None), None)
        if done is None:
            first = next(iter(live))
            try:
                live[first].wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            done = first
        results[done] = finish(live.pop(done))
    return [results[i] for i in range(len(specs))]


async def run_sdk_storm(
    server: ReferenceServer, specs: list[Spec], out: Path
) -> list[tuple[str, Any, bytes | None]]:
    """Submit, wait for and download every spec concurrently; every 5th via the sync client."""

    def sync_one(i: int, spec: Spec) -> tuple[str, Any, bytes | None]:
        with JobsClient(server.url, server.token) as client:
            job = client.submit(spec.type, spec.input)
            final = client.wait(job, timeout=120, strategy=STRATEGIES[i % 3])
            data = None
            if final.status == "completed":
                path = client.download(final, out / f"sdk-{i}.out")
                assert path is not None
                data = path.read_bytes()
            return job.id, final, data

    async def async_one(client: AsyncJobsClient, i: int, spec: Spec) -> Any:
        if i % 5 == 4:
            return await asyncio.to_thread(sync_one, i, spec)
        job = await client.submit(spec.type, spec.input)
        final = await client.wait(job, timeout=120, strategy=STRATEGIES[i % 3])
        data = None
        if final.status == "completed":
            path = await client.download(final, out / f"sdk-{i}.out")
            assert path is not None
            data = path.read_bytes()
        return job.id, final, data

    async with AsyncJobsClient(server.url, server.token) as client:
        return list(await asyncio.gather(*(async_one(client, i, s) for i, s in enumerate(specs))))


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("n_cli", "n_sdk", "parallel"), SIZES)
def test_nothing_lost_nothing_duplicated_under_faults(
    stormy_server: ReferenceServer, tmp_path: Path, n_cli: int, n_sdk: int, parallel: int
) -> None:
    cli_specs = mixed_specs(n_cli, salt=0)
    sdk_specs = mixed_specs(n_sdk, salt=1000)

    async def both() -> tuple[list[CliResult], list[tuple[str, Any, bytes | None]]]:
        cli_task = asyncio.to_thread(run_cli_storm, stormy_server, cli_specs, tmp_path, parallel)
        cli, sdk = await asyncio.gather(cli_task, run_sdk_storm(stormy_server, sdk_specs, tmp_path))
        return cli, sdk

    cli_results, sdk_results = asyncio.run(both())

    admin = Admin(stormy_server)
    try:
        injected = admin.faults()["injected"]
        admin.calm()
        # the storm really happened: every kind of fault was injected
        assert {"503", "429", "slow"} <= set(injected), injected
        assert injected.get("reset", 0) + injected.get("reset-after", 0) > 0, injected
        assert sum(injected.values()) >= (n_cli + n_sdk) // 2, injected

        submitted: dict[str, Spec] = {}
        for i, (spec, res) in enumerate(zip(cli_specs, cli_results, strict=True)):
            assert_clean(res)
            assert res.code == spec.exit_code, (spec, res.code, res.err[-1500:])
            job_id = res.out.splitlines()[0].strip()
            assert job_id not in submitted
            submitted[job_id] = spec
            body = admin.job(job_id)
            check_terminal(spec, body)
            out = tmp_path / f"cli-{i}.out"
            if spec.status == "completed":
                check_result(spec, body, out.read_bytes())
            else:
                assert not out.exists()
                assert body["error"]["code"] in res.err
        for spec, (job_id, final, data) in zip(sdk_specs, sdk_results, strict=True):
            assert job_id not in submitted
            submitted[job_id] = spec
            body = admin.job(job_id)
            check_terminal(spec, body)
            assert final.status == spec.status
            if spec.status == "completed":
                assert data is not None
                check_result(spec, body, data)

        # exactly one job per logical submit, and each ran to its end once
        server_ids = [job["jobId"] for job in admin.all_jobs()]
        assert len(server_ids) == len(set(server_ids)) == n_cli + n_sdk
        assert set(server_ids) == set(submitted)
        for job_id in server_ids:
            admin.assert_ran_once(job_id)
    finally:
        admin.close()
