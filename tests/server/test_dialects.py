"""The other dialects (docs/protocol.md, "Other dialects") on a real server, over httpx.

One server for the module, listening on ``127.0.0.1`` and, as its second origin
(``--result-base-url``), on ``localhost``: the same socket by another name, so
the "another origin" knob can be checked without a second process. For the
plain ``202 + Location``, Azure data-plane and Google dialects: success,
failure, cancel; then each knob, auth and ownership, faults, the rate limit and
``api-version``. The Azure resources (ARM) are in ``test_dialects_arm.py``. Jobs
last at most a second.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from jobctl.testing import ReferenceServer

from .conftest import assert_problem, cancel_live, client, two_origins, until

pytestmark = pytest.mark.integration

V = {"api-version": "2024-05-01"}
SLEEP = {"type": "sleep", "input": {"seconds": 0.3, "steps": 3}}
LONG = {"type": "sleep", "input": {"seconds": 30, "steps": 30}}
FAIL = {"type": "fail", "input": {"code": "boom", "message": "it broke"}}


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with two_origins() as s:
        yield s


@pytest.fixture
def c(server: ReferenceServer) -> Iterator[httpx.Client]:
    """Alice's client (redirects not followed); her jobs still running are cancelled after."""
    with client(server, follow_redirects=False) as alice:
        yield alice
        cancel_live(alice)


def second_origin(server: ReferenceServer) -> list[dict[str, Any]]:
    with client(server, "admin") as admin:
        log: list[dict[str, Any]] = admin.get("/api/_stats").json()["secondOrigin"]["requests"]
        return log


# ---- location: 202 + Location ----------------------------------------------------------
def test_location_runs_then_303_to_the_result(c: httpx.Client) -> None:
    r = c.post("/location/jobs", json=SLEEP)
    assert r.status_code == 202 and r.headers["Retry-After"].isdigit()
    monitor = r.headers["Location"]
    assert monitor.startswith("/location/jobs/") and "jobId" not in r.json()
    seen = []

    def poll() -> httpx.Response:
        answer = c.get(monitor)
        seen.append(answer)
        return answer

    done = until(poll, lambda a: a.status_code != 202)
    assert done.status_code == 303
    assert any("X-Progress" in a.headers for a in seen if a.status_code == 202)
    assert all(a.headers["Retry-After"].isdigit() for a in seen if a.status_code == 202)
    result = c.get(done.headers["Location"])
    assert result.status_code == 200 and result.json() == {"sleptSeconds": 0.3}


def test_location_failed_is_409_naming_the_error_and_cancelled_is_410(c: httpx.Client) -> None:
    failed = c.post("/location/jobs", json=FAIL).headers["Location"]
    problem = assert_problem(until(lambda: c.get(failed), lambda a: a.status_code != 202), 409)
    assert "boom" in problem["detail"] and "it broke" in problem["detail"]
    running = c.post("/location/jobs", json=LONG).headers["Location"]
    assert c.delete(running).json()["status"] == "cancelled"
    assert c.delete(running).status_code == 200  # cancelling again is the same answer
    assert_problem(c.get(running), 410)
    done = c.post("/location/jobs", json={"type": "echo", "input": {}}).headers["Location"]
    until(lambda: c.get(done), lambda a: a.status_code == 303)
    assert_problem(c.delete(done), 409)


def test_location_moving_monitor_and_absolute_links(
    c: httpx.Client, server: ReferenceServer
) -> None:
    r = c.post("/location/jobs", json=SLEEP, params={"moving": "1", "links": "absolute"})
    first = r.headers["Location"]
    assert first.startswith(server.url + "/location/jobs/")
    step = c.get(first)
    assert step.status_code == 202
    second = step.headers["Location"]
    assert second != first and parse_qs(urlsplit(second).query)["hop"] == ["1"]
    assert_problem(c.get(first), 404)  # the monitor moved on
    url = second
    while (step := c.get(url)).status_code == 202:
        url = step.headers["Location"]
        time.sleep(0.05)
    assert step.status_code == 303 and step.headers["Location"].startswith(server.url)


def test_retry_after_as_a_date_garbage_or_none(c: httpx.Client) -> None:
    date = c.post("/location/jobs", json=LONG, params={"retry-after": "date"})
    assert parsedate_to_datetime(date.headers["Retry-After"]).year >= 2024
    assert parsedate_to_datetime(c.get(date.headers["Location"]).headers["Retry-After"])
    garbage = c.post("/google/v1/jobs:run", json=LONG, params={"retry-after": "garbage"})
    assert not garbage.headers["Retry-After"].isdigit()
    none = c.post("/azure/jobs:start", params={**V, "retry-after": "none"}, json=LONG)
    assert "Retry-After" not in none.headers
    assert "Retry-After" not in c.get(none.headers["Operation-Location"]).headers


def test_a_bare_202_has_nothing_to_follow(c: httpx.Client) -> None:
    for path, params in (
        ("/location/jobs", {}),
        ("/azure/jobs:start", V),
        ("/google/v1/jobs:run", {}),
    ):
        r = c.post(path, params={**params, "bare": "1"}, json={"type": "echo", "input": {}})
        assert r.status_code == 202 and r.content == b""
        assert not {"location", "operation-location", "retry-after"} & set(r.headers)


def test_transient_503s_on_the_first_polls(c: httpx.Client) -> None:
    r = c.post("/location/jobs", params={"fail-polls": "2"}, json={"type": "echo", "input": {}})
    monitor = r.headers["Location"]
    for _ in range(2):
        failed = c.get(monitor)
        assert_problem(failed, 503)
        assert failed.headers["Retry-After"] == "1"
    assert until(lambda: c.get(monitor), lambda a: a.status_code != 202).status_code == 303


def test_a_poll_state_cookie_must_come_back(server: ReferenceServer) -> None:
    with client(server, follow_redirects=False) as jar:  # httpx keeps cookies per client
        r = jar.post(
            "/location/jobs", params={"cookie": "required"}, json={"type": "echo", "input": {}}
        )
        cookie = r.cookies["jobctl-poll"]
        monitor = r.headers["Location"]
        assert until(lambda: jar.get(monitor), lambda a: a.status_code != 202).status_code == 303
    with client(server) as bare:
        assert_problem(bare.get(monitor), 400)
        assert_problem(bare.get(monitor, headers={"Cookie": "jobctl-poll=stale"}), 400)
        assert bare.get(monitor, headers={"Cookie": f"jobctl-poll={cookie}"}).status_code == 303


def test_a_monitor_on_another_origin_needs_and_gets_no_credentials(
    c: httpx.Client, server: ReferenceServer
) -> None:
    origin = f"http://localhost:{urlsplit(server.url).port}"
    with client(server, "admin") as admin:
        admin.delete("/api/_stats")
    r = c.post("/location/jobs", params={"links": "foreign", "cookie": "set"}, json=SLEEP)
    monitor = r.headers["Location"]
    assert monitor.startswith(origin + "/location/jobs/") and "sig=" in monitor
    done = until(lambda: httpx.get(monitor), lambda a: a.status_code != 202)  # no token
    assert done.status_code == 303 and done.headers["Location"].startswith(origin)
    assert httpx.get(done.headers["Location"]).json() == {"sleptSeconds": 0.3}
    tampered = monitor.replace("sig=", "sig=0")
    assert httpx.get(tampered).headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(httpx.get(monitor.split("?")[0]), 401)
    log = second_origin(server)
    assert {e["path"].rsplit("/", 1)[1] for e in log} >= {"status", "result"}
    assert not any(e["authorization"] or e["cookie"] for e in log)
    leaked = httpx.get(monitor, headers={**server.headers("alice"), "Cookie": "jobctl-poll=x"})
    assert leaked.status_code in (200, 303)
    assert second_origin(server)[-1] | {"status": 0} == {
        "method": "GET",
        "path": urlsplit(monitor).path,
        "status": 0,
        "authorization": True,
        "cookie": True,
    }


# ---- Azure data plane: Operation-Location ------------------------------------------------
def test_azure_operation_succeeds_with_result_location_and_result(c: httpx.Client) -> None:
    r = c.post("/azure/jobs:start", params=V, json=SLEEP)
    assert r.status_code == 202 and r.json()["status"] == "NotStarted"
    monitor = r.headers["Operation-Location"]
    assert "api-version=2024-05-01" in monitor and "Location" not in r.headers
    seen: list[str] = []

    def poll() -> httpx.Response:
        answer = c.get(monitor)
        seen.append(answer.json()["status"])
        return answer

    done = until(poll, lambda a: a.json()["status"] not in ("NotStarted", "Running")).json()
    assert done["status"] == "Succeeded" and done["percentComplete"] == 100
    assert "Running" in seen or "NotStarted" in seen
    assert done["result"] == {"sleptSeconds": 0.3}
    assert "api-version=2024-05-01" in done["resourceLocation"]
    assert c.get(done["resourceLocation"]).json() == {"sleptSeconds": 0.3}


def test_azure_failed_and_cancelled(c: httpx.Client) -> None:
    monitor = c.post("/azure/jobs:start", params=V, json=FAIL).headers["Operation-Location"]
    failed = until(lambda: c.get(monitor), lambda a: a.json()["status"] == "Failed").json()
    assert failed["error"] == {"code": "boom", "message": "it broke"}
    assert "resourceLocation" not in failed
    op = c.post("/azure/jobs:start", params=V, json=LONG).json()["id"]
    cancelled = c.post(f"/azure/operations/{op}:cancel", params=V)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "Canceled"
    assert c.get(f"/azure/operations/{op}", params=V).json()["status"] == "Canceled"
    assert_problem(c.get(f"/azure/jobs/{op}/result", params=V), 409)
    assert_problem(c.post(f"/azure/operations/{failed['id']}:cancel", params=V), 409)


def test_every_azure_route_needs_an_api_version(c: httpx.Client) -> None:
    op = c.post("/azure/jobs:start", params=V, json={"type": "echo", "input": {}}).json()["id"]
    c.put("/azure/resources/versioned", params=V, json={"properties": SLEEP})
    for method, path in [
        ("POST", "/azure/jobs:start"),
        ("GET", f"/azure/operations/{op}"),
        ("POST", f"/azure/operations/{op}:cancel"),
        ("GET", f"/azure/jobs/{op}/result"),
        ("PUT", "/azure/resources/versioned"),
        ("GET", "/azure/resources/versioned"),
        ("PATCH", "/azure/resources/versioned"),
        ("DELETE", "/azure/resources/versioned"),
        ("POST", "/azure/resources/versioned/run"),
        ("GET", f"/azure/asyncoperations/{op}"),
        ("GET", f"/azure/operationresults/{op}"),
    ]:
        body = {"properties": SLEEP} if method in ("PUT", "PATCH") else SLEEP
        r = c.request(method, path, json=body if method in ("POST", "PUT", "PATCH") else None)
        problem = assert_problem(r, 400)
        assert ["query", "api-version"] in [d["loc"] for d in problem["details"]], (method, path)


def test_repeatability_request_id_replays_and_is_scoped_to_its_route(c: httpx.Client) -> None:
    key = {"Repeatability-Request-ID": f"rr-{time.monotonic_ns()}"}
    first = c.post("/azure/jobs:start", params=V, json=SLEEP, headers=key)
    again = c.post("/azure/jobs:start", params=V, json=SLEEP, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Operation-Location"] == first.headers["Operation-Location"]
    assert again.headers["Repeatability-Result"] == "accepted"
    assert_problem(c.post("/azure/jobs:start", params=V, json=FAIL, headers=key), 422)
    other = {"Idempotency-Key": key["Repeatability-Request-ID"]}
    assert_problem(c.post("/location/jobs", json=SLEEP, headers=other), 422)  # another route
    assert_problem(c.post("/api/jobs", json=SLEEP, headers=other), 422)
    keyed = c.post("/azure/jobs:start", params=V, json=SLEEP, headers=other)  # the same key
    assert keyed.headers["Idempotent-Replayed"] == "true"


def test_azure_monitor_without_status_or_truncated_once(c: httpx.Client) -> None:
    r = c.post(
        "/azure/jobs:start", params={**V, "no-status": "1"}, json={"type": "echo", "input": {}}
    )
    body = c.get(r.headers["Operation-Location"]).json()
    assert "status" not in body and body["id"] == r.json()["id"]
    r = c.post("/azure/jobs:start", params={**V, "truncate": "1"}, json=SLEEP)
    cut = c.get(r.headers["Operation-Location"])
    assert cut.status_code == 200 and cut.headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    assert c.get(r.headers["Operation-Location"]).json()["id"] == r.json()["id"]


def test_knobs_are_checked_per_dialect(c: httpx.Client) -> None:
    echo = {"type": "echo", "input": {}}
    assert_problem(c.post("/azure/jobs:start", params={**V, "moving": "1"}, json=echo), 400)
    assert_problem(c.post("/location/jobs", params={"no-status": "1"}, json=echo), 400)
    assert_problem(c.post("/google/v1/jobs:run", params={"links": "foreign"}, json=echo), 400)
    assert_problem(c.post("/location/jobs", params={"retry-after": "later"}, json=echo), 400)
    assert_problem(c.post("/location/jobs", params={"fail-polls": "9"}, json=echo), 400)
    assert c.post("/location/jobs", params={"unrelated": "1"}, json=echo).status_code == 202


def test_azure_monitor_and_result_on_another_origin(
    c: httpx.Client, server: ReferenceServer
) -> None:
    r = c.post("/azure/jobs:start", params={**V, "links": "foreign"}, json=SLEEP)
    monitor = r.headers["Operation-Location"]
    assert monitor.startswith("http://localhost:") and "api-version=2024-05-01" in monitor
    done = until(lambda: httpx.get(monitor), lambda a: a.json()["status"] == "Succeeded")
    result = done.json()["resourceLocation"]
    assert result.startswith("http://localhost:") and "sig=" in result
    assert httpx.get(result).json() == {"sleptSeconds": 0.3}
    mine = [e for e in second_origin(server) if r.json()["id"] in e["path"]]
    assert len(mine) >= 2 and not any(e["authorization"] or e["cookie"] for e in mine)


# ---- Google AIP-151 ------------------------------------------------------------------------
def test_google_operation_at_v1_and_under_google(c: httpx.Client) -> None:
    op = c.post("/google/v1/jobs:run", json=SLEEP)
    assert op.status_code == 200
    body = op.json()
    assert body["done"] is False and body["name"].startswith("operations/")
    assert body["metadata"]["@type"] == "type.googleapis.com/jobctl.v1.JobMetadata"
    name = body["name"]
    waited = c.post(f"/v1/{name}:wait", json={"timeout": "5s"}).json()
    assert waited["done"] is True and waited["metadata"]["state"] == "SUCCEEDED"
    assert waited["response"] == {
        "@type": "type.googleapis.com/jobctl.v1.JobResult",
        "sleptSeconds": 0.3,
    }
    assert c.get(f"/google/v1/{name}").json() == c.get(f"/v1/{name}").json() == waited


def test_google_wait_holds_until_its_timeout_and_errors_carry_rpc_codes(c: httpx.Client) -> None:
    name = c.post("/google/v1/jobs:run", json=LONG).json()["name"]
    started = time.monotonic()
    held = c.post(f"/v1/{name}:wait", json={"timeout": "0.3s"})
    assert held.json()["done"] is False and 0.25 < time.monotonic() - started < 5
    assert c.post(f"/v1/{name}:cancel").json() == {}
    assert c.get(f"/v1/{name}").json()["error"]["code"] == 1  # CANCELLED
    assert_problem(c.post(f"/v1/{name}:wait", json={"timeout": "soon"}), 400)
    failed = c.post("/google/v1/jobs:run", json=FAIL).json()["name"]
    error = c.post(f"/google/v1/{failed}:wait", json={}).json()["error"]
    assert error["code"] == 2 and error["message"] == "it broke"  # UNKNOWN
    assert error["details"][0]["reason"] == "boom"
    retryable = {"type": "fail", "input": {"retryable": True}}
    name = c.post("/google/v1/jobs:run", json=retryable).json()["name"]
    assert c.post(f"/v1/{name}:wait").json()["error"]["code"] == 10  # ABORTED: retry
    assert_problem(c.post(f"/v1/{name}:cancel"), 409)


def test_google_truncated_once_and_transient_503(c: httpx.Client) -> None:
    name = c.post(
        "/google/v1/jobs:run", params={"truncate": "1", "fail-polls": "1"}, json=SLEEP
    ).json()["name"]
    assert_problem(c.get(f"/v1/{name}"), 503)
    with pytest.raises(json.JSONDecodeError):
        json.loads(c.get(f"/v1/{name}").content)
    assert c.get(f"/v1/{name}").json()["name"] == name


# ---- auth, ownership, faults, the rate limit -------------------------------------------------
def test_no_token_is_401_and_another_users_operation_is_404(
    c: httpx.Client, server: ReferenceServer
) -> None:
    loc = c.post("/location/jobs", json=SLEEP).headers["Location"]
    az = c.post("/azure/jobs:start", params=V, json=SLEEP).json()["id"]
    name = c.post("/google/v1/jobs:run", json=SLEEP).json()["name"]
    c.put("/azure/resources/mine", params=V, json={"properties": SLEEP})
    urls = [
        loc,
        f"/azure/operations/{az}?api-version=2024-05-01",
        f"/azure/asyncoperations/{az}?api-version=2024-05-01",
        f"/v1/{name}",
        f"/google/v1/{name}",
        "/azure/resources/mine?api-version=2024-05-01",
    ]
    with client(server, None) as anonymous, client(server, "bob") as bob:
        for url in urls:
            r = anonymous.get(url)
            assert r.headers["WWW-Authenticate"].startswith("Bearer"), url
            assert_problem(r, 401)
            assert_problem(bob.get(url), 404)
        assert_problem(anonymous.post("/location/jobs", json=SLEEP), 401)
        assert_problem(bob.delete(loc), 404)
        assert_problem(bob.post(f"/v1/{name}:cancel"), 404)
        assert bob.delete("/azure/resources/mine", params=V).status_code == 204  # bob's has none
    assert c.get("/azure/resources/mine", params=V).status_code == 200


def test_faults_and_stats_reach_the_dialect_routes(
    c: httpx.Client, server: ReferenceServer
) -> None:
    with client(server, "admin") as admin:
        admin.put("/api/_faults", json={"faultRate": 1, "faults": ["503"], "faultSeed": 1})
        try:
            r = c.post("/google/v1/jobs:run", json=SLEEP)
            assert_problem(r, 503)
            assert r.headers["Retry-After"] == "1"
            assert_problem(c.get("/azure/resources/x", params=V), 503)
            admin.put("/api/_faults", json={"faultRate": 1, "faults": ["reset-after"]})
            key = {"Idempotency-Key": f"reset-{time.monotonic_ns()}"}
            with pytest.raises(httpx.TransportError):
                c.post("/location/jobs", json=SLEEP, headers=key)
        finally:
            admin.put("/api/_faults", json={"faultRate": 0, "faults": []})
        replay = c.post("/location/jobs", json=SLEEP, headers=key)  # stored before the reset
        assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
        job = replay.json()["id"]
        c.get(replay.headers["Location"])
        routes = admin.get("/api/_stats").json()["jobs"][job]["routes"]
        assert routes["GET /location/jobs/{job_id}/status"] >= 1


def test_the_rate_limit_applies_to_the_dialects() -> None:
    with ReferenceServer(args=("--quiet", "--rate-limit", "2/s")) as s, client(s) as c:
        answers = [c.get("/v1/operations/none").status_code for _ in range(8)]
        assert 404 in answers and 429 in answers
