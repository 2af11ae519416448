"""Clients of the multiplexed feed for the tests: an SSE reader that can stop part-way, a
WebSocket client, and the checks every multiplexed stream must pass.

``check_feed`` is the contract of a followed set of jobs, over one connection or
several (a resume): ids strictly increase, each job's progress steps come once
each and in order (a resume loses none, doubles none), and each job ends with
exactly one ``complete`` carrying its full status document.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from jobctl.testing import ReferenceServer

from .conftest import Event, parse_sse

__all__ = [
    "check_feed",
    "read_sse",
    "ws_collect",
    "ws_connect",
]


def read_sse(
    c: httpx.Client,
    params: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    stop: Callable[[list[Event]], bool] | None = None,
    on_open: Callable[[], None] | None = None,
    timeout: float = 30.0,
) -> tuple[int, list[Event]]:
    """``GET /api/events``: its status and events, until it ends or ``stop(events)`` is true.

    Args:
        c: the client (its user's token).
        params: the query (``job``, ``type``, ``status``).
        headers: extra headers (``Last-Event-ID``).
        stop: leave the stream (the client cuts it) once this says so.
        on_open: called once the answer's headers arrived (the stream is subscribed).
        timeout: give up reading after this many seconds.
    """
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    with c.stream("GET", "/api/events", params=params, headers=headers, timeout=timeout) as r:
        if on_open is not None:
            on_open()
        if r.status_code != 200:
            r.read()
            return r.status_code, events
        buffer = b""
        for chunk in r.iter_bytes():
            buffer += chunk
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                parsed, _ = parse_sse(block + b"\n\n")
                events += [e for e in parsed if e.event != "retry-only"]
                if stop is not None and stop(events):
                    return r.status_code, events
            if time.monotonic() > deadline:
                raise AssertionError(f"stream still open after {timeout}s: {events[-3:]}")
    return 200, events


def ws_url(server: ReferenceServer) -> str:
    """``ws://.../api/ws`` of the server."""
    return server.url.replace("http://", "ws://", 1) + "/api/ws"


@contextmanager
def ws_connect(
    server: ReferenceServer, user: str = "alice", **kw: Any
) -> Iterator[ClientConnection]:
    """A WebSocket to ``/api/ws`` with the user's token on the upgrade.

    Args:
        server: the server.
        user: whose token.
        kw: more arguments of ``websockets.sync.client.connect``.
    """
    with connect(ws_url(server), additional_headers=server.headers(user), **kw) as ws:
        yield ws


def ws_send(ws: ClientConnection, **message: Any) -> None:
    """Send one JSON message."""
    ws.send(json.dumps(message))


def ws_collect(
    ws: ClientConnection,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 20.0,
) -> list[dict[str, Any]]:
    """Messages received until ``until(messages)`` is true.

    Args:
        ws: the connection.
        until: when to stop.
        timeout: give up after this many seconds (AssertionError).
    """
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not until(got):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"waited {timeout}s; last messages: {got[-3:]}")
        try:
            got.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            continue
    return got


def completes(jobs: set[str]) -> Callable[[list[Any]], bool]:
    """A stop condition: every job of ``jobs`` has had its ``complete`` (SSE or WebSocket)."""

    def done(items: list[Any]) -> bool:
        ended = {_job_of(i) for i in items if _name_of(i) == "complete"}
        return jobs <= ended

    return done


def _name_of(item: Any) -> str:
    return str(item.event if isinstance(item, Event) else item["event"])


def _job_of(item: Any) -> str:
    return str(item.data["jobId"] if isinstance(item, Event) else item["jobId"])


def check_feed(items: list[Any], jobs: set[str], *, strict_ids: bool = True) -> None:
    """The contract of a multiplexed feed of ``jobs`` (see the module docstring).

    Args:
        items: SSE events or WebSocket messages, over every connection, in order.
        jobs: the jobs followed (every one must have ended).
        strict_ids: ids strictly increase (False: never decrease, for WebSocket snapshots
            that carry the position they were taken at).
    """
    ids = [int((i.id or -1) if isinstance(i, Event) else i["id"]) for i in items]
    pairs = list(itertools.pairwise(ids))
    assert all(a < b if strict_ids else a <= b for a, b in pairs), ids
    per_job: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        data = item.data if isinstance(item, Event) else item["data"]
        assert data["jobId"] == _job_of(item)
        per_job[_job_of(item)].append((_name_of(item), data))
    assert set(per_job) <= jobs, set(per_job) - jobs
    for job, seen in per_job.items():
        names = [name for name, _ in seen]
        assert names.count("complete") == 1 and names[-1] == "complete", (job, names)
        complete = seen[-1][1]
        assert complete["job"]["jobId"] == job and complete["job"]["status"] == complete["status"]
        steps = [d["current"] for name, d in seen if name == "progress"]
        assert steps == list(range(steps[0], steps[0] + len(steps))) if steps else True, steps
    assert set(per_job) == jobs, jobs - set(per_job)


def raw_upgrade(server: ReferenceServer, user: str = "alice") -> socket.socket:
    """A WebSocket handshake by hand, for reading frames as they come (pings)."""
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    token = server.headers(user)["Authorization"]
    sock.sendall(
        (
            f"GET /api/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: {token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock
