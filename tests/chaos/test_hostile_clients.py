"""Hostile clients of the reference server: oversized, nested, mis-encoded and injected input,
and every route under every kind of credential.

(Schemathesis over ``/openapi.json`` lives in ``tests/server/test_openapi_fuzz.py``;
it is not repeated here.) After every attack the server must still answer
``/healthz`` and must never have answered 500.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobctl.testing import ReferenceServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

MiB = 1 << 20


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    """One server for this module (its jobs are never counted)."""
    with ReferenceServer(args=("--quiet", "--workers", "2")) as s:
        yield s


@pytest.fixture
def alice(server: ReferenceServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=server.headers("alice"), timeout=30) as c:
        yield c


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """Assert a problem+json answer with ``status``; return its body."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["detail"]
    return body


def alive(server: ReferenceServer) -> None:
    assert httpx.get(f"{server.url}/healthz", timeout=10).json() == {"status": "ok"}


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(MiB + 1, id="ci-1MiB+1"),
        pytest.param(256 * MiB, id="big-256MiB", marks=pytest.mark.slow),
    ],
)
def test_bodies_over_the_limit_get_413(
    server: ReferenceServer, alice: httpx.Client, size: int
) -> None:
    payload = b'{"type": "echo", "input": {"x": "' + b"a" * size + b'"}}'
    problem(
        alice.post("/api/jobs", content=payload, headers={"Content-Type": "application/json"}), 413
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while reading
        for i in range(0, len(payload), MiB):
            yield payload[i : i + MiB]

    problem(
        alice.post("/api/jobs", content=chunks(), headers={"Content-Type": "application/json"}), 413
    )
    alive(server)


@pytest.mark.parametrize("depth", [1_000, 100_000, 500_000])
def test_deeply_nested_json_is_refused_not_crashed(
    server: ReferenceServer, alice: httpx.Client, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    for body in (nested, f'{{"type": "echo", "input": {{"x": {nested}}}}}'):
        r = alice.post("/api/jobs", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code in (202, 400, 413, 422), (r.status_code, r.text[:300])
        if r.status_code == 202:  # a modest depth may be accepted; it must then echo correctly
            job = alice.get(f"/api/jobs/{r.json()['jobId']}", params={"wait": 10}).json()
            assert job["status"] in ("pending", "processing", "completed"), job
    r = alice.put("/api/_faults", content=nested, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 403, 413, 422), r.status_code
    alive(server)


def test_invalid_utf8_in_body_headers_and_path(
    server: ReferenceServer, alice: httpx.Client
) -> None:
    bad = b'{"type": "echo", "input": {"x": "\xff\xfe\xc3"}}'
    problem(alice.post("/api/jobs", content=bad, headers={"Content-Type": "application/json"}), 400)
    host, port = server.url.removeprefix("http://").split(":")
    body = b'{"type":"echo","input":{}}'
    for head in (
        b"GET /api/jobs/\xff\xfe HTTP/1.1\r\n",
        b"GET /api/jobs?type=\xff HTTP/1.1\r\n",
        b"POST /api/jobs HTTP/1.1\r\nIdempotency-Key: k\xff\xfe\r\n"
        b"Content-Type: application/json\r\n",
    ):
        content = body if head.startswith(b"POST") else b""
        head += b"Host: x\r\nAuthorization: Bearer " + server.token.encode() + b"\r\n"
        head += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(content)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.connect()
        assert conn.sock is not None
        conn.sock.sendall(head + content)
        status_line = conn.sock.recv(65536).split(b"\r\n", 1)[0]
        conn.close()
        assert int(status_line.split()[1]) in (400, 404, 422), (head, status_line)
    alive(server)


INJECTIONS = [
    "../../../../etc/passwd",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fjobs.db",
    "' OR '1'='1",
    "1; DROP TABLE jobs; --",
    '" OR ""="',
    "%00",
    "a" * 5000,
    "*",
    "%",
    "_",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_traversal_and_sql_in_ids_and_filters(
    server: ReferenceServer, alice: httpx.Client, evil: str
) -> None:
    mine = alice.post("/api/jobs", json={"type": "echo", "input": {"mine": True}}).json()["jobId"]
    bob = httpx.Client(base_url=server.url, headers=server.headers("bob"), timeout=30)
    with bob:
        for path in ("", "/events", "/result", "/retry"):
            method = "POST" if path == "/retry" else "GET"
            r = bob.request(method, f"/api/jobs/{evil}{path}")
            assert r.status_code in (400, 404, 405, 414, 422), (evil, path, r.status_code)
            assert "root:" not in r.text and "SQLite" not in r.text and "sqlite" not in r.text
        problem_or_ok = bob.delete(f"/api/jobs/{evil}")
        assert problem_or_ok.status_code in (400, 404, 405, 422)
        for params in ({"type": evil}, {"status": evil}, {"limit": evil}, {"offset": evil}):
            r = bob.get("/api/jobs", params=params)
            assert r.status_code in (200, 400, 422), (params, r.status_code)
            if r.status_code == 200:  # a filter never widens what bob may see
                assert mine not in r.text and r.json()["total"] == 0
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": -1}, {"offset": -1}, {"limit": 10**30}):
        problem(alice.get("/api/jobs", params=bad), 400)
    assert alice.get(f"/api/jobs/{mine}").status_code == 200  # the table is still there
    alive(server)


# -- the authorization matrix -------------------------------------------------------------

WHO = ("none", "wrong", "other", "owner", "admin")


def matrix(job: str, failed: str, delivery: str) -> dict[tuple[str, str], tuple[int, ...]]:
    """(method, path) -> expected status for none, wrong, other user, owner, admin."""
    j = f"/api/jobs/{job}"
    return {
        ("GET", "/healthz"): (200, 200, 200, 200, 200),
        ("POST", "/api/jobs"): (401, 401, 202, 202, 202),
        ("GET", "/api/jobs"): (401, 401, 200, 200, 200),
        ("GET", j): (401, 401, 404, 200, 200),
        ("GET", f"{j}/events"): (401, 401, 404, 200, 200),
        ("GET", f"/api/events?job={job}"): (401, 401, 404, 200, 200),
        ("POST", f"{j}/events-ticket"): (401, 401, 404, 201, 201),
        ("POST", f"/api/events-ticket?job={job}"): (401, 401, 404, 201, 201),
        ("POST", "/api/ws-ticket"): (401, 401, 201, 201, 201),
        ("GET", f"{j}/result"): (401, 401, 404, 200, 200),
        ("HEAD", f"{j}/result"): (401, 401, 404, 200, 200),
        ("POST", f"{j}/retry"): (401, 401, 404, 409, 409),
        ("POST", f"/api/jobs/{failed}/retry"): (401, 401, 404, 202, 202),
        ("DELETE", j): (401, 401, 404, 409, 409),
        ("GET", "/api/_stats"): (401, 401, 403, 403, 200),
        ("DELETE", "/api/_stats"): (401, 401, 403, 403, 204),
        ("GET", "/api/_faults"): (401, 401, 403, 403, 200),
        ("PUT", "/api/_faults"): (401, 401, 403, 403, 200),
        ("GET", "/api/webhooks/failed"): (401, 401, 403, 403, 200),
        ("POST", f"/api/webhooks/failed/{delivery}/redeliver"): (401, 401, 403, 403, 404),
        **dialect_matrix(job),
    }


V = "?api-version=2024-05-01"
RESOURCE = "a-resource"


def dialect_matrix(job: str) -> dict[tuple[str, str], tuple[int, ...]]:
    """The other dialects' routes (docs/protocol.md), ``job`` being the owner's completed job.

    Each user has their own resource names: the PUT (last) makes one for each."""
    az, r, loc = f"/azure/operations/{job}", f"/azure/resources/{RESOURCE}", "/location/jobs"
    table = {
        ("POST", f"/azure/jobs:start{V}"): (401, 401, 202, 202, 202),
        ("GET", f"{az}{V}"): (401, 401, 404, 200, 200),
        ("POST", f"{az}:cancel{V}"): (401, 401, 404, 409, 409),
        ("GET", f"/azure/jobs/{job}/result{V}"): (401, 401, 404, 200, 200),
        ("GET", f"/azure/asyncoperations/{job}{V}"): (401, 401, 404, 200, 200),
        ("GET", f"/azure/operationresults/{job}{V}"): (401, 401, 404, 200, 200),
        ("GET", f"{r}{V}"): (401, 401, 404, 404, 404),
        ("PATCH", f"{r}{V}"): (401, 401, 404, 404, 404),
        ("POST", f"{r}/run{V}"): (401, 401, 404, 404, 404),
        ("DELETE", f"{r}{V}"): (401, 401, 204, 204, 204),
        ("PUT", f"{r}{V}"): (401, 401, 201, 201, 201),
        ("POST", "/google/v1/jobs:run"): (401, 401, 200, 200, 200),
        ("POST", f"{loc}"): (401, 401, 202, 202, 202),
        ("GET", f"{loc}/{job}/status"): (401, 401, 404, 303, 303),
        ("DELETE", f"{loc}/{job}/status"): (401, 401, 404, 409, 409),
        ("GET", f"{loc}/{job}/result"): (401, 401, 404, 200, 200),
    }
    for prefix in ("/google/v1", "/v1"):
        table[("GET", f"{prefix}/operations/{job}")] = (401, 401, 404, 200, 200)
        table[("POST", f"{prefix}/operations/{job}:wait")] = (401, 401, 404, 200, 200)
        table[("POST", f"{prefix}/operations/{job}:cancel")] = (401, 401, 404, 409, 409)
    return table


def test_every_route_by_every_credential(server: ReferenceServer, alice: httpx.Client) -> None:
    done = alice.post("/api/jobs", json={"type": "echo", "input": {"m": 1}}).json()["jobId"]
    failed = alice.post("/api/jobs", json={"type": "flaky", "input": {"failTimes": 5}}).json()[
        "jobId"
    ]
    for job in (done, failed):
        alice.get(f"/api/jobs/{job}", params={"wait": 10})
    table = matrix(done, failed, "no-such-delivery")
    # every documented operation is in the table (a new route must be added here)
    doc = httpx.get(f"{server.url}/openapi.json").json()
    templates = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    covered = {
        (
            m,
            p.split("?")[0]
            .replace(done, "{job_id}")
            .replace(failed, "{job_id}")
            .replace("no-such-delivery", "{delivery_id}")
            .replace(RESOURCE, "{name}")
            .split("?")[0],
        )
        for m, p in table
    }
    assert templates <= covered, templates - covered
    tokens = {
        "none": None,
        "wrong": "not-a-real-token",
        "other": server.tokens["bob"],
        "owner": server.tokens["alice"],
        "admin": server.admin_token,
    }
    echo = {"type": "echo", "input": {}}
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/jobs"): echo,
        ("POST", f"/azure/jobs:start{V}"): echo,
        ("POST", "/google/v1/jobs:run"): echo,
        ("POST", "/location/jobs"): echo,
        ("PUT", f"/azure/resources/{RESOURCE}{V}"): {"properties": echo},
        ("PATCH", f"/azure/resources/{RESOURCE}{V}"): {"properties": {}},
        ("PUT", "/api/_faults"): {"faultRate": 0.0, "faults": [], "faultSeed": 1},
    }
    errors: list[str] = []
    for who in WHO:
        token = tokens[who]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for (method, path), expected in table.items():
            want = expected[WHO.index(who)]
            if path.endswith(f"{failed}/retry") and who == "admin":
                want = 202  # the owner's retry already made one; admins may retry too
            r = httpx.request(
                method,
                server.url + path,
                headers=headers,
                json=bodies.get((method, path)),
                timeout=30,
            )
            if r.status_code != want:
                errors.append(f"{who} {method} {path}: {r.status_code} (want {want})")
            if r.status_code == 401:
                assert r.headers.get("www-authenticate", "").startswith("Bearer")
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")
            if token:
                assert token not in r.text
    assert not errors, "\n".join(errors)


def test_another_users_job_is_indistinguishable_from_a_missing_one(
    server: ReferenceServer, alice: httpx.Client
) -> None:
    job = alice.post("/api/jobs", json={"type": "echo", "input": {}}).json()["jobId"]
    missing = "00000000-0000-4000-8000-000000000000"
    with httpx.Client(base_url=server.url, headers=server.headers("bob"), timeout=30) as bob:
        for suffix in ("", "/events", "/result"):
            theirs, absent = (
                bob.get(f"/api/jobs/{job}{suffix}"),
                bob.get(f"/api/jobs/{missing}{suffix}"),
            )
            assert theirs.status_code == absent.status_code == 404
            assert json.loads(theirs.text.replace(job, "ID")) == json.loads(
                absent.text.replace(missing, "ID")
            )
            assert set(theirs.headers) - {"date"} == set(absent.headers) - {"date"}
        assert job not in bob.get("/api/jobs", params={"limit": 100}).text
