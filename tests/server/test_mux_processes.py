"""The multiplexed feed across processes: two API processes (``--workers 0``) and a
worker process on one Redis. Events published by the worker reach streams held by
either API process (the change channel wakes each process's hub); a stream cut on
one API process resumes on the other with the same ids (the feed's sequence is
Redis's, not a process's).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobctl.testing import ReferenceServer, ReferenceWorker

from .conftest import client, submit
from .muxtools import check_feed, completes, read_sse, ws_collect, ws_connect, ws_send

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def apis(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ReferenceServer, ReferenceServer]]:
    prefix = f"m{uuid.uuid4().hex[:10]}:"
    results: Path = tmp_path_factory.mktemp("results")
    common = ("--results-dir", str(results))
    args = ("--quiet", "--workers", "0", "--keepalive", "0.5", *common)
    a = ReferenceServer(store=redis_url, redis_prefix=prefix, args=args)
    b = ReferenceServer(store=redis_url, redis_prefix=prefix, args=args)
    worker = ReferenceWorker(redis_url, redis_prefix=prefix, workers=4, args=common)
    with a, b, worker:
        yield a, b


@pytest.fixture(scope="module")
def ab(
    apis: tuple[ReferenceServer, ReferenceServer],
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with client(apis[0]) as a, client(apis[1]) as b:
        yield a, b


def test_a_stream_on_one_process_follows_jobs_run_by_another(
    ab: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = ab
    jobs = [submit(a, "sleep", seconds=0.6, steps=3) for _ in range(3)]
    status, events = read_sse(b, {"job": jobs})
    assert status == 200
    check_feed(events, set(jobs))


def test_a_stream_cut_on_one_process_resumes_on_the_other(
    ab: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = ab
    jobs = [submit(b, "sleep", seconds=1.0, steps=5) for _ in range(3)]
    _, first = read_sse(a, {"job": jobs}, stop=lambda got: len(got) >= 5)
    status, rest = read_sse(b, {"job": jobs}, headers={"Last-Event-ID": str(first[-1].id)})
    assert status == 200
    check_feed(first + rest, set(jobs))


def test_a_websocket_on_one_process_sees_jobs_submitted_on_the_other(
    apis: tuple[ReferenceServer, ReferenceServer], ab: tuple[httpx.Client, httpx.Client]
) -> None:
    _, b = ab
    with ws_connect(apis[0]) as ws:
        ws_send(ws, op="subscribe", all=True)
        job = submit(b, "sleep", seconds=0.4, steps=2)
        with client(apis[1], "bob") as bob:
            bobs = submit(bob, "echo")
        got = ws_collect(ws, completes({job}))
    ours = [m for m in got if m["jobId"] == job]
    check_feed(ours, {job}, strict_ids=False)
    # The first is a status: the job's snapshot when the subscribe is served after the
    # submit reached the store, else its `pending` (the subscribe has no reply to wait for)
    assert ours[0]["event"] == "status"
    statuses = [m["data"]["status"] for m in ours if m["event"] == "status"]
    assert "processing" in statuses
    assert bobs not in {m["jobId"] for m in got}
