"""The multiplexed feed under trouble: the ``sse-drop`` fault cutting streams and
WebSockets (healed by ``Last-Event-ID`` / ``resume``), faults and bad tokens on the
upgrade, pings, a client too slow to read (closed with 1013, then resumed), and a
client that never reads (cut, the server's memory measured around it).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from jobctl.testing import ReferenceServer

from .conftest import STORES, client, store_server, submit, wait_terminal
from .muxtools import (
    check_feed,
    completes,
    raw_upgrade,
    read_sse,
    ws_collect,
    ws_connect,
    ws_send,
    ws_url,
)

pytestmark = pytest.mark.integration

ARGS = ("--quiet", "--workers", "8", "--keepalive", "0.5", "--ws-send-timeout", "1")
_PAD = "x" * 400_000  # an echo job's complete event carries its output: ~400 KB messages


@pytest.fixture(scope="module", params=STORES)
def srv(request: pytest.FixtureRequest) -> Iterator[ReferenceServer]:
    with store_server(request, args=ARGS) as s:
        yield s


@pytest.fixture
def faults(srv: ReferenceServer) -> Iterator[httpx.Client]:
    """The admin's client; fault settings are switched off again after the test."""
    with client(srv, "admin") as admin:
        yield admin
        admin.put("/api/_faults", json={"faultRate": 0, "faults": [], "faultSeed": 1})


def _drops(admin: httpx.Client, *kinds: str) -> None:
    body = {"faultRate": 1.0, "faults": list(kinds), "faultSeed": 7}
    assert admin.put("/api/_faults", json=body).status_code == 200


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_sse_drop_cuts_multiplexed_streams_and_last_event_id_heals_them(
    srv: ReferenceServer, faults: httpx.Client
) -> None:
    with client(srv) as c:
        jobs = [submit(c, "sleep", seconds=1.0, steps=5) for _ in range(3)]
        _drops(faults, "sse-drop")
        events: list[Any] = []
        for _ in range(100):
            headers = {"Last-Event-ID": str(events[-1].id)} if events else None
            status, got = read_sse(c, {"job": jobs}, headers=headers)
            if status == 204:
                break
            assert 1 <= len(got) <= 3  # each stream was cut after 1-3 events
            events += got
        check_feed(events, set(jobs))
        assert faults.get("/api/_faults").json()["injected"]["sse-drop"] >= 3
        assert all(wait_terminal(c, j)["status"] == "completed" for j in jobs)  # state intact


def test_sse_drop_cuts_websockets_and_resume_heals_them(
    srv: ReferenceServer, faults: httpx.Client
) -> None:
    with client(srv) as c:
        jobs = [submit(c, "sleep", seconds=1.0, steps=5) for _ in range(3)]
    _drops(faults, "sse-drop")
    messages: list[dict[str, Any]] = []
    cuts = 0
    while not completes(set(jobs))(messages) and cuts < 100:
        ended = {m["jobId"] for m in messages if m["event"] == "complete"}
        with ws_connect(srv) as ws:
            if messages:
                ws_send(ws, op="resume", lastEventId=max(m["id"] for m in messages))
            ws_send(ws, op="subscribe", jobs=[j for j in jobs if j not in ended])
            try:
                while not completes(set(jobs))(messages):
                    messages.append(json.loads(ws.recv(timeout=20)))
            except ConnectionClosed as closed:
                assert closed.rcvd is None  # cut, not closed: no close frame
                cuts += 1
    check_feed(messages, set(jobs), strict_ids=False)
    assert cuts >= 2


def test_the_upgrade_is_authenticated_and_faulted_like_any_request(
    srv: ReferenceServer, faults: httpx.Client
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(srv), additional_headers=headers).close()
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["WWW-Authenticate"].startswith("Bearer")
    _drops(faults, "503")
    with pytest.raises(InvalidStatus) as unavailable:
        connect(ws_url(srv), additional_headers=srv.headers("alice")).close()
    assert unavailable.value.response.status_code == 503
    assert unavailable.value.response.headers["Retry-After"] == "1"


def test_the_server_pings(srv: ReferenceServer) -> None:
    sock = raw_upgrade(srv)
    try:
        sock.settimeout(5)
        assert sock.recv(1) == b"\x89"  # FIN + ping, within --keepalive (0.5 s)
    finally:
        sock.close()


def _big_jobs(srv: ReferenceServer, n: int) -> list[str]:
    with client(srv) as c:
        jobs = [submit(c, "echo", pad=_PAD, n=i) for i in range(n)]
        for job in jobs:
            wait_terminal(c, job)
    return jobs


def _tight_socket(srv: ReferenceServer) -> socket.socket:
    """A client socket whose receive buffer is small (no autotuning): the server fills up."""
    host, port = srv.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.connect((host, int(port)))
    return sock


def test_a_slow_reader_is_closed_with_1013_and_resumes(srv: ReferenceServer) -> None:
    jobs = _big_jobs(srv, 30)
    received: list[dict[str, Any]] = []
    headers = srv.headers("alice")
    with connect(
        ws_url(srv), sock=_tight_socket(srv), additional_headers=headers, max_queue=1
    ) as ws:
        ws_send(ws, op="subscribe", jobs=jobs)
        time.sleep(1.6)  # longer than --ws-send-timeout: the server gives up on us
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                received.append(json.loads(ws.recv(timeout=20)))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    assert len(received) < len(jobs)
    ended = {m["jobId"] for m in received}
    with ws_connect(srv) as ws:
        ws_send(ws, op="resume", lastEventId=max(m["id"] for m in received))
        ws_send(ws, op="subscribe", jobs=[j for j in jobs if j not in ended])
        rest = ws_collect(ws, completes(set(jobs) - ended), timeout=60)
    check_feed(received + rest, set(jobs), strict_ids=False)


def test_a_client_that_never_reads_is_cut_without_growing_the_server(
    srv: ReferenceServer,
) -> None:
    jobs = _big_jobs(srv, 40)  # 40 messages of ~400 KB: 16 MB the client never reads
    assert srv.pid is not None
    before = _rss_mib(srv.pid)
    headers = srv.headers("alice")
    sock = _tight_socket(srv)
    with connect(ws_url(srv), sock=sock, additional_headers=headers, max_queue=1) as ws:
        ws_send(ws, op="subscribe", jobs=jobs)
        time.sleep(1.0 + 2.0 + 1.5)  # --ws-send-timeout, the close's own timeout, slack
        during = _rss_mib(srv.pid)
        got = 0
        with pytest.raises(ConnectionClosed) as cut:  # what reached our buffers, then the end
            while True:
                ws.recv(timeout=10)
                got += 1
    assert got < len(jobs) and cut.value.rcvd is None  # cut: no close frame could get through
    grew = during - before
    print(f"\nnever-reading client: server RSS {before:.1f} -> {during:.1f} MiB (+{grew:.1f})")
    assert grew < 12, grew  # bounded: the 1 MiB send queue and one message, not 16 MB
    with client(srv) as c:  # and the server still serves
        assert c.get("/api/events", params={"job": jobs[:1]}).status_code == 200
