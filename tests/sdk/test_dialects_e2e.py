"""Every dialect end to end: the SDK against the reference server's /azure, /google and
/location routes (docs/protocol.md, "Other dialects"), with the server's knobs making
each case of docs/operations.md happen for real.

The server listens on 127.0.0.1 and, as its "other origin", on localhost (the same
socket by another name): the admin's stats show which requests reached that origin
with credentials, so "never sent elsewhere" is checked on what arrived.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server.conftest import two_origins

from jobctl import JobsClient, PollPolicy, ProtocolError
from jobctl.testing import ReferenceServer

pytestmark = pytest.mark.integration


V = "api-version=2024-05-01"
SLEEP = {"type": "sleep", "input": {"seconds": 0.4, "steps": 4}}
LONG = {"type": "sleep", "input": {"seconds": 30, "steps": 30}}
FAIL = {"type": "fail", "input": {"code": "boom", "message": "it broke"}}
ECHO = {"type": "echo", "input": {"n": 7}}
FAST = PollPolicy(initial=0.05, factor=1.5, max_interval=0.5, jitter=0.0, long_poll=0)


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with two_origins() as s:
        yield s


@pytest.fixture
def client(server: ReferenceServer) -> Iterator[JobsClient]:
    with JobsClient(server.url, server.token, poll=FAST) as c:
        yield c


def foreign_log(server: ReferenceServer) -> list[dict[str, Any]]:
    stats = httpx.get(f"{server.url}/api/_stats", headers=server.headers("admin"), timeout=10)
    log: list[dict[str, Any]] = stats.json()["secondOrigin"]["requests"]
    return log


STARTS = {
    "azure": ("POST", f"/azure/jobs:start?{V}"),
    "arm-put": ("PUT", "/azure/resources/{name}?" + V),
    "arm-post": ("POST", "/azure/resources/{name}/run?" + V),
    "google": ("POST", "/google/v1/jobs:run"),
    "location": ("POST", "/location/jobs"),
}


_NAMES = iter(range(10**6))


def start(kind: str, query: str = "") -> tuple[str, str]:
    method, url = STARTS[kind]
    url = url.replace("{name}", f"r-{next(_NAMES)}-{kind}")
    if query:
        url += ("&" if "?" in url else "?") + query
    return method, url


def body(kind: str, job: dict[str, Any]) -> dict[str, Any]:
    return {"properties": job} if kind.startswith("arm") else job


def arm_action(client: JobsClient, job: dict[str, Any]) -> tuple[str, str]:
    """An ARM action (POST .../run) runs the job of a resource made first (a PUT)."""
    method, url = start("arm-put")
    client.wait_operation(client.call(method, url, json=body("arm-put", job)), timeout=30)
    return "POST", url.replace("?", "/run?", 1)


@pytest.mark.parametrize("kind", list(STARTS))
def test_success_with_the_result(client: JobsClient, kind: str) -> None:
    method, url = arm_action(client, ECHO) if kind == "arm-post" else start(kind)
    op = client.call(method, url, json=None if kind == "arm-post" else body(kind, ECHO))
    done = client.wait_operation(op, timeout=30)
    assert done.outcome == "succeeded", done
    shown = json.dumps(done.result) if not isinstance(done.result, bytes) else done.result.decode()
    assert '"n": 7' in shown or "'n': 7" in shown or '"n":7' in shown, done.result


@pytest.mark.parametrize("kind", list(STARTS))
def test_failure_is_failed_with_the_error(client: JobsClient, kind: str) -> None:
    if kind == "arm-post":
        pytest.skip("an ARM action runs its resource's job: the PUT has already failed it")
    method, url = start(kind)
    done = client.wait_operation(client.call(method, url, json=body(kind, FAIL)), timeout=30)
    if kind == "location":  # a 202 + Location API can only say it with a 4xx
        assert done.outcome == "error" and "boom" in str(done.exception)
    else:
        assert done.outcome == "failed" and "boom" in json.dumps(done.error), done


@pytest.mark.parametrize("kind", ["google", "location"])
def test_cancel(client: JobsClient, kind: str) -> None:
    # A Retry-After still holds after a cancel (the server asked for that pause), so the
    # plain dialect's is taken off here; Google's :wait long poll needs no pause at all.
    method, url = start(kind, "retry-after=none" if kind == "location" else "")
    op = client.call(method, url, json=body(kind, LONG))
    assert client.cancel_operation(op) is True
    done = client.wait_operation(op, timeout=30)
    assert done.outcome in ("cancelled", "error"), done  # location: 410 after a cancel


def test_azure_has_no_standard_cancel(client: JobsClient) -> None:
    method, url = start("azure")
    op = client.call(method, url, json=LONG)
    assert client.cancel_operation(op) is False


def test_a_moving_location(client: JobsClient) -> None:
    method, url = start("location", "moving=1&retry-after=none")  # our own quick pace
    monitors: list[str | None] = []
    op = client.call(method, url, json={"type": "sleep", "input": {"seconds": 3, "steps": 6}})
    done = client.wait_operation(op, timeout=30, on_progress=lambda o: monitors.append(o.monitor))
    assert done.outcome == "succeeded"
    # each answer named a new monitor, and the next poll went there
    assert any(m is not None and m != op.monitor for m in monitors), monitors


@pytest.mark.parametrize("hint", ["date", "garbage", "none"])
def test_retry_after_in_both_forms_and_garbage(client: JobsClient, hint: str) -> None:
    method, url = start("location", f"retry-after={hint}")
    done = client.wait_operation(client.call(method, url, json=SLEEP), timeout=30)
    assert done.outcome == "succeeded"


def test_a_200_that_says_failed(client: JobsClient) -> None:
    method, url = start("arm-put", "sync=1")
    op = client.call(method, url, json=body("arm-put", FAIL))
    done = client.wait_operation(op, timeout=30)
    assert done.outcome == "failed", done


@pytest.mark.parametrize("kind", ["azure", "google", "location"])
def test_transient_5xx_while_polling(client: JobsClient, kind: str) -> None:
    method, url = start(kind, "fail-polls=2")
    done = client.wait_operation(client.call(method, url, json=body(kind, SLEEP)), timeout=30)
    assert done.outcome == "succeeded"


def test_transient_5xx_on_the_initial_request_is_retried_only_with_a_key(
    server: ReferenceServer, client: JobsClient
) -> None:
    admin = server.headers("admin")
    faults = {"faultRate": 1.0, "faults": ["503"], "faultSeed": 3}
    httpx.put(f"{server.url}/api/_faults", json=faults, headers=admin).raise_for_status()
    try:
        from jobctl import ServiceUnavailableError

        with pytest.raises(ServiceUnavailableError):
            client.call(*start("location"), json=SLEEP)  # a POST with no key: once only
        with (
            JobsClient(server.url, server.token, max_retries=2, poll=FAST) as keyed,
            pytest.raises(ServiceUnavailableError) as info,
        ):
            keyed.call(*start("location"), json=SLEEP, idempotency_key="k-503")
        assert "503" in str(info.value)
    finally:
        httpx.put(f"{server.url}/api/_faults", json={"faultRate": 0.0, "faults": []}, headers=admin)
    op = client.call(*start("location"), json=SLEEP, idempotency_key="k-503-after")
    assert client.wait_operation(op, timeout=30).outcome == "succeeded"


@pytest.mark.parametrize(
    ("kind", "query", "why"),
    [("azure", "truncate=1", "expected JSON"), ("azure", "no-status=1", "no status")],
)
def test_a_monitor_that_breaks_its_dialect_ends_in_error(
    client: JobsClient, kind: str, query: str, why: str
) -> None:
    method, url = start(kind, query)
    done = client.wait_operation(client.call(method, url, json=SLEEP), timeout=30)
    assert done.outcome == "error" and isinstance(done.exception, ProtocolError)


def test_a_4xx_while_polling_ends_in_error(server: ReferenceServer, client: JobsClient) -> None:
    method, url = start("location", "retry-after=none")
    op = client.call(method, url, json=LONG)
    httpx.delete(op.monitor or "", headers=server.headers())  # cancelled: the monitor says 410
    done = client.wait_operation(op, timeout=30)
    assert done.outcome == "error" and "410" in str(done.exception)


def test_a_202_with_nothing_to_follow(client: JobsClient) -> None:
    with pytest.raises(ProtocolError, match="no way to follow"):
        client.call(*start("location", "bare=1"), json=SLEEP)


def test_relative_and_absolute_links(client: JobsClient) -> None:
    for query in ("", "links=absolute"):
        method, url = start("location", query)
        assert (
            client.wait_operation(client.call(method, url, json=SLEEP), timeout=30).outcome
            == "succeeded"
        )


@pytest.mark.parametrize("kind", ["location", "azure"])
def test_a_monitor_on_another_origin_gets_no_token_no_cookie_no_header(
    server: ReferenceServer, client: JobsClient, kind: str
) -> None:
    before = len(foreign_log(server))
    method, url = start(kind, "links=foreign&cookie=set" if kind == "location" else "links=foreign")
    op = client.call(method, url, json=SLEEP, headers={"X-Api-Key": "k-secret"})
    assert "localhost" in (op.monitor or "")
    done = client.wait_operation(op, timeout=30)
    assert done.outcome == "succeeded", done
    arrived = foreign_log(server)[before:]
    assert arrived and not any(r.get("authorization") or r.get("cookie") for r in arrived)


def test_cookies_that_carry_poll_state(client: JobsClient) -> None:
    method, url = start("location", "cookie=required")
    done = client.wait_operation(client.call(method, url, json=SLEEP), timeout=30)
    assert done.outcome == "succeeded"


def test_a_token_made_by_one_process_is_followed_by_another(
    server: ReferenceServer, client: JobsClient, tmp_path: Path
) -> None:
    method, url = start("azure")
    op = client.call(method, url, json=SLEEP)
    script = (
        "import sys, json\n"
        "from jobctl import JobsClient, Operation, PollPolicy\n"
        "op = Operation.from_token(sys.argv[3])\n"
        "with JobsClient(sys.argv[1], sys.argv[2], poll=PollPolicy(initial=0.1)) as c:\n"
        "    print(json.dumps(c.wait_operation(op, timeout=30).to_json()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, server.url, server.token, op.resume_token],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["outcome"] == "succeeded" and doc["dialect"] == "azure"
