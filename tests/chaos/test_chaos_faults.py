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

from jobctl import AsyncJobsClient, JobsClient, ServiceUnavailableError
from jobctl._core.flows.follow import Strategy
from jobctl.testing import ReferenceServer

from .expected import Spec, check_result, check_terminal, mixed_specs
from .support import FAULTS, Admin, CliResult, assert_clean, cli_env, finish, run_cli, spawn

pytestmark = pytest.mark.integration

Strategies = tuple[Strategy, ...]
MIX = ("0.3", FAULTS)  # the storm: every kind of fault on 30 % of requests
LOST = ("0.5", "reset-after,reset")  # half the answers lost, many after the job was stored
SIZES = [
    pytest.param(MIX, 12, 40, 12, id="ci-mix-12cli-40sdk"),
    pytest.param(LOST, 6, 16, 6, id="ci-lost-answers-6cli-16sdk"),
    pytest.param(MIX, 48, 200, 16, id="big-mix-48cli-200sdk", marks=pytest.mark.slow),
    pytest.param(LOST, 24, 100, 12, id="big-lost-answers-24cli-100sdk", marks=pytest.mark.slow),
]


@pytest.fixture
def stormy_server(request: pytest.FixtureRequest) -> Iterator[ReferenceServer]:
    """A server failing a share of /api requests with the test's faults (seeded)."""
    rate, kinds = request.node.callspec.params["profile"]
    args = ("--quiet", "--fault-rate", rate, "--faults", kinds, "--fault-seed", "7")
    with ReferenceServer(args=(*args, "--slow-delay", "0.5", "--workers", "4")) as server:
        yield server


def cli_args(i: int, spec: Spec, home: Path, strategies: Strategies) -> list[str]:
    """The ``jobctl submit --wait -o`` command of logical submit ``i`` (its key is fixed)."""
    return [
        *("submit", *spec.cli_args(), "--wait", "--timeout", "120"),
        *("-o", str(home / f"cli-{i}.out"), "--idempotency-key", f"chaos-cli-{i}"),
        *("--strategy", strategies[i % len(strategies)]),
    ]


def run_cli_storm(
    server: ReferenceServer, specs: list[Spec], home: Path, parallel: int, strategies: Strategies
) -> list[CliResult]:
    """Run one ``jobctl submit --wait -o`` per spec, at most ``parallel`` at a time."""
    env = cli_env(server.url, server.token, home)
    results: dict[int, CliResult] = {}
    live: dict[int, subprocess.Popen[str]] = {}
    pending = list(enumerate(specs))
    while pending or live:
        while pending and len(live) < parallel:
            i, spec = pending.pop(0)
            live[i] = spawn(cli_args(i, spec, home, strategies), env, home)
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


SdkResult = tuple[str, Any, bytes | None] | ServiceUnavailableError


def sdk_sync_one(
    server: ReferenceServer, i: int, spec: Spec, out: Path, strategies: Strategies
) -> SdkResult:
    """Logical SDK submit ``i`` with the sync client (its key is fixed, so it can be redone)."""
    try:
        with JobsClient(server.url, server.token) as client:
            job = client.submit(spec.type, spec.input, idempotency_key=f"chaos-sdk-{i}")
            final = client.wait(job, timeout=120, strategy=strategies[i % len(strategies)])
            data = None
            if final.status == "completed":
                path = client.download(final, out / f"sdk-{i}.out")
                assert path is not None
                data = path.read_bytes()
            return job.id, final, data
    except ServiceUnavailableError as exc:  # gave up after its retries: a clear, typed error
        return exc


async def run_sdk_storm(
    server: ReferenceServer, specs: list[Spec], out: Path, strategies: Strategies
) -> list[SdkResult]:
    """Submit, wait for and download every spec concurrently; every 5th via the sync client."""

    async def async_one(client: AsyncJobsClient, i: int, spec: Spec) -> SdkResult:
        if i % 5 == 4:
            return await asyncio.to_thread(sdk_sync_one, server, i, spec, out, strategies)
        try:
            job = await client.submit(spec.type, spec.input, idempotency_key=f"chaos-sdk-{i}")
            strategy = strategies[i % len(strategies)]
            final = await client.wait(job, timeout=120, strategy=strategy)
            data = None
            if final.status == "completed":
                path = await client.download(final, out / f"sdk-{i}.out")
                assert path is not None
                data = path.read_bytes()
            return job.id, final, data
        except ServiceUnavailableError as exc:
            return exc

    async with AsyncJobsClient(server.url, server.token) as client:
        return list(await asyncio.gather(*(async_one(client, i, s) for i, s in enumerate(specs))))


@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("profile", "n_cli", "n_sdk", "parallel"), SIZES)
def test_nothing_lost_nothing_duplicated_under_faults(
    stormy_server: ReferenceServer,
    tmp_path: Path,
    profile: tuple[str, str],
    n_cli: int,
    n_sdk: int,
    parallel: int,
) -> None:
    strategies: Strategies = ("auto", "sse", "poll")
    cli_specs = mixed_specs(n_cli, salt=0)
    sdk_specs = mixed_specs(n_sdk, salt=1000)

    async def both() -> tuple[list[CliResult], list[SdkResult]]:
        cli_task = asyncio.to_thread(
            run_cli_storm, stormy_server, cli_specs, tmp_path, parallel, strategies
        )
        cli, sdk = await asyncio.gather(
            cli_task, run_sdk_storm(stormy_server, sdk_specs, tmp_path, strategies)
        )
        return cli, sdk

    cli_results, sdk_results = asyncio.run(both())

    admin = Admin(stormy_server)
    try:
        injected = admin.faults()["injected"]
        admin.calm()
        print(f"faults injected: {injected}; requests: {admin.stats()['total']}")
        # the storm really happened: every kind of fault asked for was injected
        if profile == MIX:
            assert {"503", "429", "slow", "reset"} <= set(injected), injected
        else:
            assert injected.get("reset-after", 0) >= (n_cli + n_sdk) // 4, injected
        assert sum(injected.values()) >= (n_cli + n_sdk) // 2, injected

        # a client that gave up (exit 8 / ServiceUnavailableError) said so clearly; run again
        # with the same key on a calm server, it must land on the job it may have created
        gave_up = [i for i, r in enumerate(cli_results) if r.code == 8]
        gave_up_sdk = [i for i, r in enumerate(sdk_results) if isinstance(r, Exception)]
        print(f"gave up under faults: {len(gave_up)} CLI, {len(gave_up_sdk)} SDK")
        if profile == MIX:  # 5 failures in a row at 18 % per request: rare, never common
            assert len(gave_up) + len(gave_up_sdk) <= (n_cli + n_sdk) // 20 + 1, [
                cli_results[i].err for i in gave_up
            ]
        env = cli_env(stormy_server.url, stormy_server.token, tmp_path)
        for i in gave_up:
            assert_clean(cli_results[i])
            assert cli_results[i].err.count("error:") == 1, cli_results[i].err
            cli_results[i] = run_cli(cli_args(i, cli_specs[i], tmp_path, strategies), env, tmp_path)
        for i in gave_up_sdk:
            sdk_results[i] = sdk_sync_one(stormy_server, i, sdk_specs[i], tmp_path, strategies)

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
        for spec, result in zip(sdk_specs, sdk_results, strict=True):
            assert not isinstance(result, Exception), result
            job_id, final, data = result
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


@pytest.mark.timeout(600)
@pytest.mark.parametrize("profile", [MIX], ids=["ci-mix"])
def test_wait_many_ends_every_job_as_its_type_says_under_faults(
    stormy_server: ReferenceServer, profile: tuple[str, str]
) -> None:
    # One multiplexed stream for all (503/429/resets on connect, sse-drop cuts while
    # reading): it resumes, or falls back to polling in turns, within the one deadline.
    specs = mixed_specs(24, salt=5000)

    def submit(client: JobsClient, i: int, spec: Spec) -> str:
        for _ in range(3):  # a submit that gave up is redone with its key: the same job
            try:
                return client.submit(spec.type, spec.input, idempotency_key=f"many-{i}").id
            except ServiceUnavailableError:
                continue
        raise AssertionError(f"submit {i} kept failing")

    with JobsClient(stormy_server.url, stormy_server.token) as client:
        ids = [submit(client, i, spec) for i, spec in enumerate(specs)]
        events: list[Any] = []
        done = client.wait_many(ids, timeout=240, on_event=events.append)
    admin = Admin(stormy_server)
    injected = admin.faults()["injected"]
    admin.calm()
    assert sum(injected.values()) >= len(specs) // 2, injected
    assert [j.id for j in done] == ids
    for spec, job in zip(specs, done, strict=True):
        assert str(job.status) == spec.status, (spec, job)
        check_terminal(spec, admin.job(job.id))
    completes = [e.job_id for e in events if e.event == "complete"]
    assert len(completes) == len(set(completes))  # never twice, whatever the cuts
