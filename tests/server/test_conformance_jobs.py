"""PROTOCOL.md conformance over loopback: submit, idempotency, status, cancel, retry, list, auth."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobctl.testing import DEFAULT_TOKENS, ReferenceServer

from .conftest import (
    STORES,
    assert_problem,
    client,
    store_server,
    submit,
    wait_status,
    wait_terminal,
)

pytestmark = pytest.mark.integration

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module", params=STORES)
def srv(request: pytest.FixtureRequest) -> Iterator[ReferenceServer]:
    tokens = {**DEFAULT_TOKENS, "carol": "carol-token"}
    with store_server(request, tokens=tokens, args=("--quiet",)) as s:
        yield s


@pytest.fixture
def c(srv: ReferenceServer) -> Iterator[httpx.Client]:
    with client(srv) as cl:
        yield cl


# ---- submit -------------------------------------------------------------------------
def test_submit_answers_202_with_location_retry_after_and_urls(
    srv: ReferenceServer, c: httpx.Client
) -> None:
    r = c.post("/api/jobs", json={"type": "sleep", "input": {"seconds": 0.2, "steps": 2}})
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"jobId", "status", "statusUrl", "eventsUrl", "estimatedWaitTime"}
    assert body["status"] == "pending"
    assert r.headers["Location"] == f"/api/jobs/{body['jobId']}"
    assert int(r.headers["Retry-After"]) >= 1
    assert body["statusUrl"] == f"{srv.url}/api/jobs/{body['jobId']}"
    assert body["eventsUrl"] == f"{srv.url}/api/jobs/{body['jobId']}/events"
    assert isinstance(body["estimatedWaitTime"], int) and body["estimatedWaitTime"] >= 200
    traced = c.post(
        "/api/jobs", json={"type": "echo", "input": {}}, headers={"X-Correlation-Id": "trace-7"}
    )
    assert traced.headers["X-Correlation-Id"] == "trace-7"
    traced_job = c.get(f"/api/jobs/{traced.json()['jobId']}").json()
    assert traced_job["correlationId"] == "trace-7"
    assert wait_terminal(c, body["jobId"])["status"] == "completed"


def test_unknown_type_and_invalid_input_are_400_with_details(c: httpx.Client) -> None:
    body = assert_problem(c.post("/api/jobs", json={"type": "nope", "input": {}}), 400)
    assert body["details"][0]["loc"] == ["body", "type"]
    r = c.post("/api/jobs", json={"type": "sleep", "input": {"seconds": -1, "steps": 0}})
    body = assert_problem(r, 400)
    locs = sorted(tuple(d["loc"]) for d in body["details"])
    assert locs == [("body", "input", "seconds"), ("body", "input", "steps")]
    assert all(d["msg"] for d in body["details"])
    extra = c.post("/api/jobs", json={"type": "sleep", "input": {"seconds": 1, "bogus": 1}})
    assert assert_problem(extra, 400)["details"][0]["loc"] == ["body", "input", "bogus"]
    missing = assert_problem(c.post("/api/jobs", json={"input": {}}), 400)
    assert missing["details"][0]["loc"] == ["body", "type"]
    assert_problem(
        c.post("/api/jobs", content=b"{not json", headers={"Content-Type": "application/json"}), 400
    )


def test_oversized_body_is_413_by_length_and_while_streaming(c: httpx.Client) -> None:
    big = {"type": "echo", "input": {"blob": "x" * (1 << 20)}}
    assert_problem(c.post("/api/jobs", json=big), 413)

    def chunks() -> Iterator[bytes]:
        yield b'{"type": "echo", "input": {"blob": "'
        for _ in range(80):
            yield b"y" * 16384
        yield b'"}}'

    r = c.post("/api/jobs", content=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(r, 413)


def test_webhook_target_outside_loopback_is_400(c: httpx.Client) -> None:
    both = {"webhook": {"url": "http://127.0.0.1:9/h"}, "callbackUrl": "http://127.0.0.1:9/c"}
    hooks = (
        {"webhook": {"url": "http://example.com/h"}},
        {"callbackUrl": "ftp://127.0.0.1/"},
        both,
    )
    for hook in hooks:
        r = c.post("/api/jobs", json={"type": "echo", "input": {}, **hook})
        assert_problem(r, 400)


# ---- idempotency -----------------------------------------------------------------------
def test_idempotent_replay_mismatch_and_per_user_scope(
    srv: ReferenceServer, c: httpx.Client
) -> None:
    req = {"type": "echo", "input": {"n": 1, "s": "x"}}
    first = c.post("/api/jobs", json=req, headers={"Idempotency-Key": "idem-1"})
    assert first.status_code == 202
    # same request, keys reordered: still the same canonical JSON
    same = {"input": {"s": "x", "n": 1}, "type": "echo"}
    again = c.post("/api/jobs", json=same, headers={"Idempotency-Key": "idem-1"})
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json() == first.json()
    other = c.post(
        "/api/jobs", json={"type": "echo", "input": {"n": 2}}, headers={"Idempotency-Key": "idem-1"}
    )
    assert_problem(other, 422)
    with client(srv, "bob") as bob:
        theirs = bob.post("/api/jobs", json=req, headers={"Idempotency-Key": "idem-1"})
        assert theirs.status_code == 202
        assert theirs.json()["jobId"] != first.json()["jobId"]
    no_key = [c.post("/api/jobs", json=req).json()["jobId"] for _ in range(2)]
    assert no_key[0] != no_key[1]


@pytest.mark.parametrize("key", ["a" * 256, "has space", "tab\there"])
def test_bad_idempotency_key_is_400(c: httpx.Client, key: str) -> None:
    r = c.post("/api/jobs", json={"type": "echo", "input": {}}, headers={"Idempotency-Key": key})
    assert_problem(r, 400)


def test_idempotency_key_of_255_visible_chars_is_accepted(c: httpx.Client) -> None:
    key = "".join(chr(33 + i % 94) for i in range(255))
    r = c.post("/api/jobs", json={"type": "echo", "input": {}}, headers={"Idempotency-Key": key})
    assert r.status_code == 202


def test_concurrent_submits_with_one_key_make_exactly_one_job(srv: ReferenceServer) -> None:
    n = 8
    barrier = threading.Barrier(n)
    results: list[httpx.Response] = []
    lock = threading.Lock()
    req = {"type": "sleep", "input": {"seconds": 0.1, "steps": 1}}

    def worker() -> None:
        with client(srv, "carol") as cl:
            barrier.wait()
            r = cl.post("/api/jobs", json=req, headers={"Idempotency-Key": "race-1"})
            with lock:
                results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes.count(202) == 1, codes
    assert set(codes) <= {200, 202, 409}
    ids = {r.json()["jobId"] for r in results if r.status_code in (200, 202)}
    assert len(ids) == 1
    with client(srv, "carol") as cl:
        later = cl.post("/api/jobs", json=req, headers={"Idempotency-Key": "race-1"})
        assert later.status_code == 200 and later.json()["jobId"] in ids
        mine = cl.get("/api/jobs", params={"type": "sleep", "limit": 100}).json()["jobs"]
        assert sum(1 for j in mine if j["jobId"] in ids) == 1


# ---- status ---------------------------------------------------------------------------------
def test_status_bodies_for_each_state(c: httpx.Client) -> None:
    job = submit(c, "sleep", seconds=2, steps=20)
    live = wait_status(c, job, "processing")
    for key in (
        "jobId",
        "type",
        "status",
        "createdAt",
        "updatedAt",
        "startedAt",
        "estimatedCompletion",
        "retryAfter",
    ):
        assert key in live, key
    for key in ("createdAt", "updatedAt", "startedAt", "estimatedCompletion"):
        assert ISO.match(live[key]), live[key]
    r = c.get(f"/api/jobs/{job}")
    assert r.headers["Retry-After"] == str(r.json()["retryAfter"])
    assert r.json()["retryAfter"] >= 1
    c.delete(f"/api/jobs/{job}")
    cancelled = c.get(f"/api/jobs/{job}").json()
    assert cancelled["status"] == "cancelled" and ISO.match(cancelled["cancelledAt"])
    assert "Retry-After" not in c.get(f"/api/jobs/{job}").headers

    done = wait_terminal(c, submit(c, "echo", hello="world"))
    assert done["status"] == "completed"
    assert done["resultUrl"].endswith(f"/api/jobs/{done['jobId']}/result")
    assert ISO.match(done["completedAt"]) and ISO.match(done["expiresAt"])
    assert done["output"] == {"hello": "world"}

    failed = wait_terminal(c, submit(c, "fail", code="E42", message="nope", retryable=False))
    assert failed["error"] == {"code": "E42", "message": "nope", "retryable": False}
    assert "retryUrl" not in failed
    retryable = wait_terminal(c, submit(c, "fail", code="E1", retryable=True))
    assert retryable["retryUrl"].endswith(f"/api/jobs/{retryable['jobId']}/retry")


def test_long_poll_ends_on_status_changes_only_and_honours_prefer(c: httpx.Client) -> None:
    job = submit(c, "sleep", seconds=1.2, steps=4)
    wait_status(c, job, "processing")
    held = c.get(f"/api/jobs/{job}", params={"wait": 30}).json()
    assert held["status"] == "completed"  # three progress steps did not end the hold
    r = c.get(f"/api/jobs/{job}", headers={"Prefer": "respond-async, wait=30"})
    assert r.headers["Preference-Applied"] == "wait=30"
    capped = c.get(f"/api/jobs/{job}", headers={"Prefer": "wait=999"})
    assert capped.headers["Preference-Applied"] == "wait=60"
    assert capped.json()["status"] == "completed"
    assert "Preference-Applied" not in c.get(f"/api/jobs/{job}", params={"wait": 1}).headers
    assert_problem(c.get(f"/api/jobs/{job}", params={"wait": -1}), 400)


@pytest.mark.parametrize("ask", ["query", "prefer"])
def test_long_poll_with_progress_also_ends_at_a_progress_step(c: httpx.Client, ask: str) -> None:
    job = submit(c, "sleep", seconds=1.5, steps=3)
    first = wait_status(c, job, "processing")
    if ask == "query":
        r = c.get(f"/api/jobs/{job}", params={"wait": 30, "progress": 1})
        assert "Preference-Applied" not in r.headers
    else:
        r = c.get(f"/api/jobs/{job}", headers={"Prefer": "wait=30, progress"})
        assert r.headers["Preference-Applied"] == "wait=30, progress"
    woke = r.json()
    assert woke["status"] == "processing"
    assert woke["progress"] != first.get("progress")
    wait_terminal(c, job)


def test_missing_and_foreign_jobs_are_the_same_404(srv: ReferenceServer, c: httpx.Client) -> None:
    job = submit(c, "echo")
    wait_terminal(c, job)
    with client(srv, "bob") as bob, client(srv, "admin") as admin:
        for path in ("", "/events", "/result"):
            foreign = assert_problem(bob.get(f"/api/jobs/{job}{path}"), 404)
            missing = assert_problem(bob.get(f"/api/jobs/no-such-job{path}"), 404)
            assert foreign.keys() == missing.keys()
        assert_problem(bob.delete(f"/api/jobs/{job}"), 404)
        assert_problem(bob.post(f"/api/jobs/{job}/retry"), 404)
        assert admin.get(f"/api/jobs/{job}").status_code == 200


def test_authentication_errors(srv: ReferenceServer) -> None:
    with client(srv, None) as anon:
        for r in (anon.get("/api/jobs"), anon.post("/api/jobs", json={})):
            assert_problem(r, 401)
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        bad = anon.get("/api/jobs", headers={"Authorization": "Bearer wrong"})
        assert_problem(bad, 401)
        assert "invalid_token" in bad.headers["WWW-Authenticate"]
        assert_problem(anon.get("/api/jobs", headers={"Authorization": "Basic eDp5"}), 401)
        assert anon.get("/healthz").json() == {"status": "ok"}
    with client(srv, "alice") as alice:
        assert_problem(alice.get("/api/_stats"), 403)
        assert_problem(alice.get("/api/webhooks/failed"), 403)
        assert_problem(alice.put("/api/_faults", json={"faultRate": 0}), 403)


def test_admin_endpoints_refuse_non_admins_before_reading_the_body(srv: ReferenceServer) -> None:
    """docs/server.md: admin endpoints answer 403 to non-admins (the admin dependency runs
    before FastAPI validates the body, so a bad body does not tell them more)."""
    with client(srv, "alice") as alice:
        assert_problem(alice.put("/api/_faults", json={"faultRate": 5}), 403)
        assert_problem(alice.put("/api/_faults", content=b"{not json"), 403)
        assert_problem(alice.post("/api/webhooks/failed/dlv_x/redeliver"), 403)
    with client(srv, "admin") as admin:
        assert_problem(admin.put("/api/_faults", json={"faultRate": 5}), 400)
        assert_problem(admin.post("/api/webhooks/failed/dlv_x/redeliver"), 404)


def test_unknown_route_and_method_are_problems(c: httpx.Client) -> None:
    assert_problem(c.get("/api/nothing-here"), 404)
    r = c.put("/api/jobs")
    assert_problem(r, 405)
    assert "GET" in r.headers["Allow"]


# ---- cancel ------------------------------------------------------------------------
@pytest.mark.parametrize("store", STORES)
def test_cancel_stops_a_running_job_and_frees_the_worker(
    store: str, request: pytest.FixtureRequest
) -> None:
    kw = {"store": request.getfixturevalue("redis_url")} if store == "redis" else {}
    with ReferenceServer(args=("--quiet", "--workers", "1"), **kw) as s, client(s) as c:
        long = submit(c, "sleep", seconds=100, steps=1000)
        queued = submit(c, "sleep", seconds=120)
        wait_status(c, long, "processing")
        assert c.get(f"/api/jobs/{queued}").json()["status"] == "pending"
        r = c.delete(f"/api/jobs/{queued}")
        assert r.status_code == 200 and r.json() == {"jobId": queued, "status": "cancelled"}
        r = c.delete(f"/api/jobs/{long}")
        assert r.json() == {"jobId": long, "status": "cancelled"}
        assert c.delete(f"/api/jobs/{long}").status_code == 200  # again: same answer
        quick = submit(c, "echo", x=1)
        # the single worker is free again: the echo finishes within a few long polls
        assert wait_terminal(c, quick, limit=3)["status"] == "completed"
        after = c.get(f"/api/jobs/{long}").json()
        assert after["status"] == "cancelled" and "resultUrl" not in after
        assert_problem(c.get(f"/api/jobs/{long}/result"), 409)
        assert_problem(c.delete(f"/api/jobs/{quick}"), 409)
        failed = submit(c, "fail")
        wait_terminal(c, failed)
        assert_problem(c.delete(f"/api/jobs/{failed}"), 409)


# ---- retry ---------------------------------------------------------------------------
def test_retry_chain_of_a_flaky_job(c: httpx.Client) -> None:
    first = wait_terminal(c, submit(c, "flaky", failTimes=2, seconds=0))
    assert first["status"] == "failed" and first["error"]["retryable"] is True
    r = c.post(first["retryUrl"], headers={"Idempotency-Key": "retry-1"})
    assert r.status_code == 202
    body = r.json()
    assert body["originalJobId"] == first["jobId"] and body["status"] == "pending"
    assert r.headers["Location"] == f"/api/jobs/{body['jobId']}"
    assert body["statusUrl"].endswith(r.headers["Location"])
    replay = c.post(first["retryUrl"], headers={"Idempotency-Key": "retry-1"})
    assert replay.status_code == 200 and replay.json() == body
    assert replay.headers["Idempotent-Replayed"] == "true"
    second = wait_terminal(c, body["jobId"])
    assert second["status"] == "failed" and second["originalJobId"] == first["jobId"]
    third_id = c.post(second["retryUrl"]).json()["jobId"]
    third = wait_terminal(c, third_id)
    assert third["status"] == "completed"
    assert third["output"] == {"attempts": 3, "failTimes": 2}


def test_retry_refuses_what_is_not_failed_and_retryable(c: httpx.Client) -> None:
    final = wait_terminal(c, submit(c, "fail", retryable=False))
    assert_problem(c.post(f"/api/jobs/{final['jobId']}/retry"), 409)
    done = wait_terminal(c, submit(c, "echo"))
    assert_problem(c.post(f"/api/jobs/{done['jobId']}/retry"), 409)


# ---- list --------------------------------------------------------------------------------
def test_list_filters_before_paging_newest_first(srv: ReferenceServer) -> None:
    with client(srv, "carol") as c:
        made = [submit(c, "echo", i=i) for i in range(5)]
        failed = [submit(c, "fail", code=f"c{i}") for i in range(3)]
        for job in made + failed:
            wait_terminal(c, job)
        everything = c.get("/api/jobs", params={"limit": 100}).json()
        ids = [j["jobId"] for j in everything["jobs"]]
        assert ids[: len(failed)] == failed[::-1]  # newest first
        assert everything["total"] == len(ids) and everything["nextOffset"] is None
        seen: list[str] = []
        offset: int | None = 0
        while offset is not None:
            page = c.get(
                "/api/jobs",
                params={"type": "echo", "status": "completed", "limit": 2, "offset": offset},
            ).json()
            assert len(page["jobs"]) <= 2
            seen += [j["jobId"] for j in page["jobs"]]
            offset = page["nextOffset"]
        assert seen == made[::-1]
        both = c.get(
            "/api/jobs", params=[("status", "failed"), ("status", "completed"), ("limit", "100")]
        ).json()
        assert both["total"] == len(made) + len(failed) + (everything["total"] - 8)
        only_failed = c.get("/api/jobs", params={"status": "failed", "limit": 1}).json()
        assert only_failed["total"] == 3 and only_failed["nextOffset"] == 1
        assert only_failed["jobs"][0]["jobId"] == failed[-1]
        for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"status": "bogus"}):
            assert_problem(c.get("/api/jobs", params=bad), 400)
    with client(srv) as alice:  # another user's job (other tests may run on another worker)
        submit(alice, "echo")
    with client(srv, "admin") as admin:
        all_jobs = admin.get("/api/jobs", params={"limit": 100}).json()
        assert all_jobs["total"] > everything["total"]


def test_stats_count_requests_per_route_and_job(srv: ReferenceServer, c: httpx.Client) -> None:
    job = submit(c, "echo")
    wait_terminal(c, job)
    c.get(f"/api/jobs/{job}")
    with client(srv, "admin") as admin:
        stats: dict[str, Any] = admin.get("/api/_stats").json()
    per_job = stats["jobs"][job]["routes"]
    assert per_job["GET /api/jobs/{job_id}"] >= 2
    assert stats["routes"]["POST /api/jobs"] >= 1
    assert stats["total"] >= sum(stats["routes"].values()) - 1
