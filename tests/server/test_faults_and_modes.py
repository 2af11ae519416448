"""Fault injection and the server's optional modes, each on its own loopback server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from jobctl.testing import ReferenceServer

from .conftest import assert_problem, client, free_port, parse_sse, submit, wait_terminal

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chaos() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet", "--slow-delay", "1.0")) as s:
        yield s


def _set_faults(s: ReferenceServer, rate: float, kinds: list[str], seed: int = 1) -> None:
    with client(s, "admin") as admin:
        r = admin.put("/api/_faults", json={"faultRate": rate, "faults": kinds, "faultSeed": seed})
        assert r.status_code == 200, r.text
        assert r.json()["faultRate"] == rate and r.json()["faults"] == kinds


def test_reset_drops_the_connection_without_an_answer(chaos: ReferenceServer) -> None:
    _set_faults(chaos, 1.0, ["reset"])
    try:
        with client(chaos) as c:
            with pytest.raises(httpx.TransportError):
                c.get("/api/jobs")
            assert c.get(f"{chaos.url}/healthz").status_code == 200
            with client(chaos, "admin") as admin:
                assert admin.get("/api/_stats").status_code == 200
                assert admin.get("/api/_faults").json()["injected"]["reset"] >= 1
    finally:
        _set_faults(chaos, 0.0, [])


def test_reset_after_store_is_what_idempotency_keys_are_for(chaos: ReferenceServer) -> None:
    req = {"type": "echo", "input": {"order": 42}}
    _set_faults(chaos, 1.0, ["reset-after"])
    try:
        with client(chaos) as c, pytest.raises(httpx.TransportError):
            c.post("/api/jobs", json=req, headers={"Idempotency-Key": "after-1"})
    finally:
        _set_faults(chaos, 0.0, [])
    with client(chaos) as c:
        again = c.post("/api/jobs", json=req, headers={"Idempotency-Key": "after-1"})
        assert again.status_code == 200  # the first attempt was stored before the reset
        assert again.headers["Idempotent-Replayed"] == "true"
        assert wait_terminal(c, again.json()["jobId"])["output"] == {"order": 42}


def test_503_and_429_faults_are_problems_with_retry_after(chaos: ReferenceServer) -> None:
    for kind in ("503", "429"):
        _set_faults(chaos, 1.0, [kind])
        try:
            with client(chaos) as c:
                r = c.get("/api/jobs")
                assert_problem(r, int(kind))
                assert r.headers["Retry-After"] == "1"
        finally:
            _set_faults(chaos, 0.0, [])


def test_second_submit_while_the_first_is_in_flight_is_409(chaos: ReferenceServer) -> None:
    _set_faults(chaos, 1.0, ["slow"])
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        with client(chaos) as c:
            barrier.wait()
            r = c.post(
                "/api/jobs",
                json={"type": "echo", "input": {}},
                headers={"Idempotency-Key": "slow-1"},
            )
            codes.append(r.status_code)
            if r.status_code == 409:
                assert_problem(r, 409)

    try:
        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        _set_faults(chaos, 0.0, [])
    assert sorted(codes) == [202, 409]


def test_sse_drop_ends_streams_early_and_resume_loses_nothing(chaos: ReferenceServer) -> None:
    with client(chaos) as c:
        job = submit(c, "sleep", seconds=1.0, steps=10)
        _set_faults(chaos, 1.0, ["sse-drop"], seed=3)
        seen: list[int] = []
        last: str | None = None
        done = False
        try:
            for _ in range(60):
                headers = {"Last-Event-ID": last} if last else {}
                r = c.get(f"/api/jobs/{job}/events", headers=headers)
                if r.status_code == 204:
                    break
                events, _ = parse_sse(r.content)
                for e in events:
                    assert e.id is not None
                    if seen:
                        assert int(e.id) > seen[-1]
                    seen.append(int(e.id))
                    last = e.id
                    done = done or e.event == "complete"
                if done:
                    break
        finally:
            _set_faults(chaos, 0.0, [])
        assert done
        assert seen == list(range(seen[0], seen[-1] + 1))  # contiguous: nothing lost
        with client(chaos, "admin") as admin:
            assert admin.get("/api/_faults").json()["injected"].get("sse-drop", 0) >= 1


def test_bad_fault_settings_are_400(chaos: ReferenceServer) -> None:
    with client(chaos, "admin") as admin:
        assert_problem(admin.put("/api/_faults", json={"faultRate": 2, "faults": []}), 400)
        assert_problem(admin.put("/api/_faults", json={"faultRate": 0.1, "faults": ["x"]}), 400)


# ---- modes -------------------------------------------------------------------------------
def test_redirect_mode_and_signed_results_on_a_second_origin() -> None:
    port = free_port()
    origin = f"http://localhost:{port}"
    args = ("--quiet", "--port", str(port), "--redirect-completed", "--result-base-url", origin)
    with ReferenceServer(args=args) as s, client(s) as c:
        job = submit(c, "echo", n=7)
        r = c.get(f"/api/jobs/{job}", params={"wait": 10})
        while r.status_code == 200:
            r = c.get(f"/api/jobs/{job}", params={"wait": 10})
        assert r.status_code == 303
        url = r.headers["Location"]
        assert url.startswith(f"{origin}/api/jobs/{job}/result?")
        query = parse_qs(urlsplit(url).query)
        assert set(query) == {"expires", "sig"}
        plain = httpx.get(url)  # no token: the URL carries its own signature
        assert plain.status_code == 200 and plain.json() == {"n": 7}
        assert "Authorization" not in plain.request.headers
        # a wrong signature authenticates nobody: 401 with the bearer challenge (PROTOCOL.md)
        tampered = url.replace(query["sig"][0], "0" * 64)
        assert assert_problem(httpx.get(tampered), 401)
        assert httpx.get(tampered).headers["WWW-Authenticate"].startswith("Bearer")
        expires = query["expires"][0]
        later = url.replace(f"expires={expires}", f"expires={int(expires) + 1}")
        assert_problem(httpx.get(later), 401)
        assert httpx.head(later).status_code == 401
        assert_problem(httpx.get(f"{s.url}/api/jobs/{job}/result"), 401)
        assert c.get(f"/api/jobs/{job}/result").status_code == 200  # token still works


def test_rate_limit_answers_429_per_token() -> None:
    server = ReferenceServer(args=("--quiet", "--rate-limit", "3/s"))
    with server as s, client(s) as c, client(s, "bob") as bob:
        responses = [c.get("/api/jobs") for _ in range(12)]
        assert responses[0].status_code == 200
        limited = [r for r in responses if r.status_code == 429]
        assert limited
        assert_problem(limited[0], 429)
        assert int(limited[0].headers["Retry-After"]) >= 1
        assert bob.get("/api/jobs").status_code == 200
        assert httpx.get(f"{s.url}/healthz").status_code == 200


def test_required_idempotency_key() -> None:
    with ReferenceServer(args=("--quiet", "--require-idempotency-key")) as s, client(s) as c:
        req = {"type": "echo", "input": {}}
        assert_problem(c.post("/api/jobs", json=req), 400)
        assert c.post("/api/jobs", json=req, headers={"Idempotency-Key": "k"}).status_code == 202


def test_faults_never_corrupt_state() -> None:
    """A naive retrying client under 40 % faults ends with exactly one job per key."""
    args = (
        "--quiet",
        "--fault-rate",
        "0.4",
        "--faults",
        "503,429,reset,reset-after,slow",
        "--fault-seed",
        "11",
        "--slow-delay",
        "0.05",
    )
    with ReferenceServer(args=args) as s, client(s) as c:
        made: dict[str, str] = {}
        for i in range(15):
            key = f"storm-{i}"
            for _ in range(100):
                try:
                    r = c.post(
                        "/api/jobs",
                        json={"type": "echo", "input": {"i": i}},
                        headers={"Idempotency-Key": key},
                    )
                except httpx.TransportError:
                    continue
                if r.status_code in (200, 202):
                    made[key] = r.json()["jobId"]
                    break
                assert r.status_code in (409, 429, 503), r.text
            assert key in made
        _set_faults(s, 0.0, [])
        with client(s, "admin") as admin:
            page = admin.get("/api/jobs", params={"limit": 100}).json()
        assert page["total"] == 15
        assert {j["jobId"] for j in page["jobs"]} == set(made.values())
        for i, job in enumerate(made.values()):
            assert wait_terminal(c, job)["output"] == {"i": i}
