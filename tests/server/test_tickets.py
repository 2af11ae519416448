"""Tickets for browsers (PROTOCOL.md "Tickets for browsers"): what they open, and all they don't.

A ticket opens one event stream (per job, multiplexed, or the WebSocket upgrade) for
60 s, for ``GET`` with ``Accept: text/event-stream`` only; anywhere else, for another
target, forged, truncated or expired, it is ``401`` problem+json. It never reaches the
access log. Expiry is checked with a ticket signed by the test itself with the key the
server keeps in its database (so the real middleware judges a genuinely expired one).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.sync.client import connect

from jobctl.testing import ReferenceServer
from mock_server.http.tickets import TICKET_SECONDS, TicketError, Tickets, split_ticket

from .conftest import assert_problem, client, parse_sse, submit, wait_terminal

SSE = {"Accept": "text/event-stream"}


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    """A server that logs every request (not ``--quiet``), so the log can be searched."""
    with ReferenceServer(args=("--workers", "2")) as s:
        yield s


@pytest.fixture
def alice(server: ReferenceServer) -> Iterator[httpx.Client]:
    with client(server) as c:
        yield c


@pytest.fixture
def anon(server: ReferenceServer) -> Iterator[httpx.Client]:
    with client(server, None) as c:
        yield c


def ticket_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["ticket"][0]


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=path).geturl()


def job_ticket(c: httpx.Client, job_id: str) -> dict[str, Any]:
    r = c.post(f"/api/jobs/{job_id}/events-ticket")
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    return body


def sse_events(anon: httpx.Client, url: str, **headers: str) -> tuple[int, list[Any]]:
    r = anon.get(url, headers={**SSE, **headers})
    if r.status_code != 200:
        return r.status_code, []
    assert r.headers["content-type"].startswith("text/event-stream")
    return 200, parse_sse(r.content)[0]


def test_a_job_ticket_opens_that_jobs_stream_without_a_token(
    alice: httpx.Client, anon: httpx.Client, server: ReferenceServer
) -> None:
    job = submit(alice, "echo", n=1)
    wait_terminal(alice, job)
    body = job_ticket(alice, job)
    assert set(body) == {"url", "expiresAt"}
    url = body["url"]
    assert url.startswith(f"{server.url}/api/jobs/{job}/events?ticket=")
    assert server.token not in url
    expires = time.mktime(time.strptime(body["expiresAt"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert body["expiresAt"].endswith("Z") and abs(expires - time.timezone - time.time() - 60) < 5
    status, events = sse_events(anon, url)
    assert status == 200
    assert [e.event for e in events] == ["status", "complete"]
    assert events[-1].data["job"]["jobId"] == job
    # a reconnection with Last-Event-ID (what EventSource sends) goes on with the same URL
    status, again = sse_events(anon, url, **{"Last-Event-ID": "1"})
    assert status == 200 and again[-1].event == "complete"


def test_a_ticket_for_one_job_opens_no_other(alice: httpx.Client, anon: httpx.Client) -> None:
    a, b = submit(alice, "echo", n=1), submit(alice, "echo", n=2)
    url = job_ticket(alice, a)["url"]
    r = anon.get(with_path(url, f"/api/jobs/{b}/events"), headers=SSE)
    body = assert_problem(r, 401)
    assert "ticket" in body["detail"] and ticket_of(url) not in r.text
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/jobs"),
        ("GET", "/api/jobs/{job}"),
        ("GET", "/api/jobs/{job}/result"),
        ("DELETE", "/api/jobs/{job}"),
        ("POST", "/api/jobs/{job}/retry"),
        ("POST", "/api/jobs/{job}/events-ticket"),
        ("POST", "/api/events-ticket"),
        ("POST", "/api/ws-ticket"),
        ("GET", "/api/events"),
        ("GET", "/api/_stats"),
        ("GET", "/location/jobs/{job}/status"),
    ],
)
def test_a_ticket_is_useless_on_every_other_route(
    alice: httpx.Client, anon: httpx.Client, method: str, path: str
) -> None:
    job = submit(alice, "echo", n=1)
    wait_terminal(alice, job)
    ticket = ticket_of(job_ticket(alice, job)["url"])
    r = anon.request(method, path.format(job=job), params={"ticket": ticket}, headers=SSE)
    assert_problem(r, 401)
    assert ticket not in r.text


def test_a_ticket_opens_only_a_get_for_an_event_stream(
    alice: httpx.Client, anon: httpx.Client
) -> None:
    job = submit(alice, "echo", n=1)
    url = job_ticket(alice, job)["url"]
    for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        assert_problem(anon.get(url, headers=headers), 401)
    for method in ("POST", "DELETE", "HEAD", "PUT"):
        assert anon.request(method, url, headers=SSE).status_code == 401
    doubled = url + "&ticket=" + ticket_of(url)
    assert_problem(anon.get(doubled, headers=SSE), 401)
    assert (
        anon.get(url, headers={"Accept": "text/html, text/event-stream;q=0.9"}).status_code == 200
    )


def test_forged_and_truncated_tickets_are_401(alice: httpx.Client, anon: httpx.Client) -> None:
    job = submit(alice, "echo", n=1)
    url = job_ticket(alice, job)["url"]
    ticket = ticket_of(url)
    expires, user, mac = ticket.split(".")
    base = url.split("?")[0]
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    bad = [
        ticket[:-1],
        ticket[: len(ticket) // 2],
        f"{expires}.{user}",
        f"{expires}.{user}.{flipped}",
        f"{int(expires) + 3600}.{user}.{mac}",  # a longer life is not the ticket's
        f"{expires}.Ym9i.{mac}",  # bob
        "",
        "x",
        "a.b.c",
        f"{expires}.{user}.{mac}.",
        "9" * 40 + f".{user}.{mac}",
    ]
    for forged in bad:
        r = anon.get(base, params={"ticket": forged}, headers=SSE)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == 'Bearer realm="jobctl", error="invalid_token"'


def test_another_users_job_is_404_exactly_like_an_unknown_one(
    server: ReferenceServer, alice: httpx.Client
) -> None:
    job = submit(alice, "echo", n=1)
    with client(server, "bob") as bob:
        theirs = bob.post(f"/api/jobs/{job}/events-ticket")
        unknown = bob.post("/api/jobs/00000000-0000-4000-8000-000000000000/events-ticket")
        assert_problem(theirs, 404)
        assert_problem(unknown, 404)
        assert theirs.json()["title"] == unknown.json()["title"]
        assert theirs.headers.keys() == unknown.headers.keys()
        assert_problem(bob.post("/api/events-ticket", params={"job": job}), 404)
    with client(server, "admin") as admin:  # admins see every job, so they may ask
        assert admin.post(f"/api/jobs/{job}/events-ticket").status_code == 201
    with client(server, None) as nobody:
        assert_problem(nobody.post(f"/api/jobs/{job}/events-ticket"), 401)


def test_a_multiplexed_ticket_opens_that_query_only(
    alice: httpx.Client, anon: httpx.Client, server: ReferenceServer
) -> None:
    a, b = submit(alice, "echo", n=1), submit(alice, "echo", n=2)
    wait_terminal(alice, a)
    wait_terminal(alice, b)
    r = alice.post("/api/events-ticket", params=[("job", a), ("job", b)])
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    assert url.startswith(f"{server.url}/api/events?job={a}&job={b}&ticket=")
    status, events = sse_events(anon, url)
    assert status == 200
    assert {e.data["jobId"] for e in events if e.event == "complete"} == {a, b}
    ticket = ticket_of(url)
    base = f"{server.url}/api/events"
    # the same query in another order is the same target
    swapped = anon.get(base, params=[("job", b), ("job", a), ("ticket", ticket)], headers=SSE)
    assert swapped.status_code == 200
    for other in ([("job", a)], [], [("job", a), ("job", b), ("type", "echo")]):
        r = anon.get(base, params=[*other, ("ticket", ticket)], headers=SSE)
        assert_problem(r, 401)
    # a ticket for every job (no job=) with filters, then without them
    r = alice.post("/api/events-ticket", params={"type": "echo", "status": "completed"})
    all_url = r.json()["url"]
    assert "type=echo" in all_url and "status=completed" in all_url
    assert_problem(anon.get(base, params={"ticket": ticket_of(all_url)}, headers=SSE), 401)
    assert_problem(alice.post("/api/events-ticket", params={"status": "done"}), 400)


def test_a_ticket_past_its_60_seconds_is_401(
    server: ReferenceServer, alice: httpx.Client, anon: httpx.Client
) -> None:
    job = submit(alice, "echo", n=1)
    with sqlite3.connect(server.db_path) as db:
        (key,) = db.execute("SELECT value FROM meta WHERE key='events-ticket'").fetchone()
    path = f"/api/jobs/{job}/events"
    ago = Tickets(bytes.fromhex(key), clock=lambda: time.time() - TICKET_SECONDS - 1)
    old, _ = ago.issue("alice", path, [])
    r = anon.get(path, params={"ticket": old}, headers=SSE)
    assert "expired" in assert_problem(r, 401)["detail"]
    fresh, _ = Tickets(bytes.fromhex(key)).issue("alice", path, [])  # the same key: accepted
    assert anon.get(path, params={"ticket": fresh}, headers=SSE).status_code == 200
    stranger, _ = Tickets(bytes.fromhex(key)).issue("mallory", path, [])  # no such user
    assert_problem(anon.get(path, params={"ticket": stranger}, headers=SSE), 401)


def test_a_websocket_ticket_opens_the_upgrade_read_only(
    server: ReferenceServer, alice: httpx.Client
) -> None:
    job = submit(alice, "sleep", seconds=30, steps=30)
    r = alice.post("/api/ws-ticket")
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    assert url.startswith(server.url.replace("http://", "ws://") + "/api/ws?ticket=")
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"op": "subscribe", "jobs": [job]}))
        first = json.loads(ws.recv(timeout=10))
        assert first["jobId"] == job and first["event"] == "status"
        ws.send(json.dumps({"op": "cancel", "jobId": job, "ref": "c1"}))
        while (message := json.loads(ws.recv(timeout=10)))["event"] != "error":
            pass
        assert message["status"] == 403 and message["ref"] == "c1"
    assert alice.get(f"/api/jobs/{job}").json()["status"] in ("pending", "processing")
    alice.delete(f"/api/jobs/{job}")
    sse_ticket = ticket_of(alice.post("/api/events-ticket").json()["url"])
    ws_base = server.url.replace("http://", "ws://") + "/api/ws"
    with pytest.raises(Exception, match="401"):  # an SSE ticket does not open the socket
        connect(f"{ws_base}?ticket={sse_ticket}", open_timeout=10)


def test_tickets_never_reach_the_log(server: ReferenceServer, alice: httpx.Client) -> None:
    job = submit(alice, "echo", n=1)
    url = job_ticket(alice, job)["url"]
    ticket = ticket_of(url)
    with client(server, None) as anon:
        anon.get(url, headers=SSE)
        anon.get(url)  # refused: still not logged
        anon.get(f"/api/jobs/{job}", params={"ticket": ticket})
    with client(server, "alice") as c:
        c.get(url)  # a token and a ticket: the token counts, the ticket is still dropped
        ws_url = c.post("/api/ws-ticket").json()["url"]
    with connect(ws_url, open_timeout=10):  # uvicorn logs an upgrade's query: redacted
        pass
    with pytest.raises(Exception, match="401"):
        connect(ws_url.replace("/api/ws", "/api/ws/") + "x", open_timeout=10)
    time.sleep(0.2)
    assert server.log_path is not None
    log = server.log_path.read_text()
    assert f"/api/jobs/{job}/events" in log  # the requests were logged, without queries
    assert "WebSocket /api/ws?ticket=[redacted]" in log
    for secret in (ticket, ticket_of(ws_url)):
        assert secret not in log and secret.split(".")[2] not in log
    assert all(part.startswith("[redacted]") for part in log.split("ticket=")[1:])


def test_the_ticket_codec() -> None:
    """Unit: the target ignores order and the ticket itself; splitting keeps other bytes."""
    now = [1_000_000.0]
    t = Tickets(b"k" * 32, clock=lambda: now[0])
    ticket, expires = t.issue("alice", "/api/events", [("job", "b"), ("job", "a")])
    assert expires == 1_000_060
    assert t.check(ticket, "/api/events", [("job", "a"), ("job", "b"), ("ticket", "x")]) == "alice"
    now[0] = 1_000_059.9
    assert t.check(ticket, "/api/events", [("job", "a"), ("job", "b")]) == "alice"
    now[0] = 1_000_060
    with pytest.raises(TicketError, match="expired"):
        t.check(ticket, "/api/events", [("job", "a"), ("job", "b")])
    with pytest.raises(TicketError):
        Tickets(b"j" * 32, clock=lambda: 0).check(ticket, "/api/events", [])
    tickets, rest, pairs = split_ticket(b"job=a%20b&ticket=T.1&type=x&%74icket=U")
    assert tickets == ["T.1", "U"] and rest == b"job=a%20b&type=x"
    assert pairs == [("job", "a b"), ("type", "x")]
