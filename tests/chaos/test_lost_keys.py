"""A failed submit never forgets the key that could recover it (hardening, class 11).

The reference server stores a job and then resets the connection (``reset-after``)
on every submit; a client with no retries left raises. The error carries the
``Idempotency-Key`` it sent, its message says how to get the job back, and a
caller-level retry with that key returns the stored job instead of a second one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from jobctl import AsyncJobsClient, JobsClient, ServiceUnavailableError
from jobctl.testing import ReferenceServer


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet",)) as s:
        yield s


def faults(server: ReferenceServer, kinds: list[str], rate: float) -> None:
    body = {"faultRate": rate, "faults": kinds, "faultSeed": 7}
    response = httpx.put(
        f"{server.url}/api/_faults", json=body, headers=server.headers("admin"), timeout=10
    )
    response.raise_for_status()


def jobs_of(server: ReferenceServer) -> list[dict[str, object]]:
    response = httpx.get(
        f"{server.url}/api/jobs", params={"limit": 100}, headers=server.headers(), timeout=10
    )
    response.raise_for_status()
    jobs: list[dict[str, object]] = response.json()["jobs"]
    return jobs


@pytest.mark.parametrize("given_key", [None, "my-own-key-1"])
def test_a_caller_retry_with_the_errors_key_returns_the_stored_job(
    server: ReferenceServer, given_key: str | None
) -> None:
    before = {j["jobId"] for j in jobs_of(server)}
    faults(server, ["reset-after"], 1.0)
    try:
        with (
            JobsClient(server.url, server.token, max_retries=0) as client,
            pytest.raises(ServiceUnavailableError) as info,
        ):
            client.submit("echo", {"n": 1}, idempotency_key=given_key)
    finally:
        faults(server, [], 0.0)
    err = info.value
    key = err.idempotency_key
    assert key is not None and (given_key is None or key == given_key)
    assert f"idempotency_key={key!r}" in str(err) and err.resume_hint in str(err)
    stored = [j for j in jobs_of(server) if j["jobId"] not in before]
    assert len(stored) == 1  # the server did store it before the reset
    with JobsClient(server.url, server.token) as client:
        again = client.submit("echo", {"n": 1}, idempotency_key=key)
    assert again.replayed and again.job_id == stored[0]["jobId"]
    assert [j for j in jobs_of(server) if j["jobId"] not in before] == stored


def test_errors_that_made_no_job_carry_the_key_without_a_resume_hint(
    server: ReferenceServer,
) -> None:
    with JobsClient(server.url, server.token) as client:
        with pytest.raises(ValueError):
            client.submit("", {})
        from jobctl import RequestRejectedError

        with pytest.raises(RequestRejectedError) as info:
            client.submit("no-such-type", {}, idempotency_key="k-400")
    assert info.value.idempotency_key == "k-400" and info.value.resume_hint is None


def test_retry_errors_carry_their_key_too(server: ReferenceServer) -> None:
    with JobsClient(server.url, server.token) as client:
        failed = client.submit("fail", {"retryable": True, "afterSeconds": 0})
        client.wait(failed, timeout=30)
        faults(server, ["reset-after"], 1.0)
        try:
            with (
                JobsClient(server.url, server.token, max_retries=0) as flaky,
                pytest.raises(ServiceUnavailableError) as info,
            ):
                flaky.retry(failed, idempotency_key="retry-key-1")
        finally:
            faults(server, [], 0.0)
        assert info.value.idempotency_key == "retry-key-1"
        again = client.retry(failed, idempotency_key="retry-key-1")
    assert again.replayed and again.original_job_id == failed.job_id


def test_many_async_submits_under_faults_lose_no_job_and_make_no_duplicate(
    server: ReferenceServer,
) -> None:
    """40 concurrent submits at 30 % faults with no retries: every failure carries its
    key, and retrying only the failures with their keys accounts for every job once."""
    before = {j["jobId"] for j in jobs_of(server)}
    faults(server, ["503", "reset", "reset-after"], 0.3)
    n = 40

    async def main() -> tuple[dict[int, str], dict[int, str]]:
        ok: dict[int, str] = {}
        keys: dict[int, str] = {}
        async with AsyncJobsClient(server.url, server.token, max_retries=0) as client:
            results = await asyncio.gather(
                *(client.submit("echo", {"i": i}) for i in range(n)), return_exceptions=True
            )
        for i, result in enumerate(results):
            if isinstance(result, ServiceUnavailableError):
                assert result.idempotency_key is not None
                keys[i] = result.idempotency_key
            else:
                assert not isinstance(result, BaseException), result
                ok[i] = result.job_id
        return ok, keys

    try:
        ok, keys = asyncio.run(main())
    finally:
        faults(server, [], 0.0)
    assert keys, "the fault rate made no submit fail: raise it"
    with JobsClient(server.url, server.token) as client:
        recovered = {i: client.submit("echo", {"i": i}, idempotency_key=k) for i, k in keys.items()}
    assert any(job.replayed for job in recovered.values()), "no reset came after a store"
    ids = {**ok, **{i: job.job_id for i, job in recovered.items()}}
    created = {j["jobId"] for j in jobs_of(server)} - before
    assert sorted(ids) == list(range(n))  # every submit is accounted for...
    assert set(ids.values()) == created and len(created) == n  # ...by exactly one job
