"""A deployment of two API processes (``--workers 0``) and worker processes on one Redis.

Jobs submitted through API A are followed (SSE and long poll) through API B; a
worker killed with SIGKILL mid-job loses its claim after the visibility timeout
and another worker runs the job again, which then completes exactly once;
cancellation through B stops a job running in a worker process; 100 concurrent
submits with shared idempotency keys over both APIs make exactly one job per key.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from jobctl.testing import ReferenceServer, ReferenceWorker

from .conftest import Event, client, parse_sse, wait_terminal

pytestmark = pytest.mark.integration

VISIBILITY = "1.5"


class Deployment:
    """Two API processes and a set of worker processes sharing one Redis prefix."""

    def __init__(self, redis_url: str, results: Path) -> None:
        self.redis_url = redis_url
        self.prefix = f"s{uuid.uuid4().hex[:10]}:"
        self.common = ("--results-dir", str(results), "--visibility-timeout", VISIBILITY)
        api_args = ("--quiet", "--workers", "0", "--keepalive", "0.5", *self.common)
        self.apis = [
            ReferenceServer(store=redis_url, redis_prefix=self.prefix, args=api_args)
            for _ in range(2)
        ]
        self.workers: list[ReferenceWorker] = []

    def worker(self, workers: int = 1) -> ReferenceWorker:
        w = ReferenceWorker(
            self.redis_url, redis_prefix=self.prefix, workers=workers, args=self.common
        )
        self.workers.append(w.start())
        return w

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
        for api in self.apis:
            api.stop()


@pytest.fixture(scope="module")
def deployment(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    d = Deployment(redis_url, tmp_path_factory.mktemp("results"))
    try:
        for api in d.apis:
            api.start()
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="module")
def ab(deployment: Deployment) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    with client(deployment.apis[0]) as a, client(deployment.apis[1]) as b:
        yield a, b


def _follow(c: httpx.Client, job_id: str) -> list[Event]:
    with c.stream("GET", f"/api/jobs/{job_id}/events", timeout=60.0) as r:
        assert r.status_code == 200
        events, _ = parse_sse(r.read())
    return events


def test_jobs_submitted_through_a_are_followed_through_b(
    deployment: Deployment, ab: tuple[httpx.Client, httpx.Client]
) -> None:
    a, b = ab
    if not deployment.workers:
        deployment.worker(workers=2)
    r = a.post("/api/jobs", json={"type": "sleep", "input": {"seconds": 0.6, "steps": 3}})
    assert r.status_code == 202
    job_id = r.json()["jobId"]
    streamed: list[Event] = []
    follower = threading.Thread(target=lambda: streamed.extend(_follow(b, job_id)))
    follower.start()
    done = wait_terminal(b, job_id)  # long polls on B, woken by a worker in another process
    follower.join(timeout=60)
    assert done["status"] == "completed" and done["output"] == {"sleptSeconds": 0.6}
    ids = [int(e.id or 0) for e in streamed]
    assert ids == sorted(set(ids)) and streamed[-1].event == "complete"
    progress = [e.data["current"] for e in streamed if e.event == "progress"]
    assert progress[-1] == 3
    assert b.get(done["resultUrl"]).json() == {"sleptSeconds": 0.6}  # shared --results-dir
    resumed = b.get(f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": "2"})
    events, _ = parse_sse(resumed.content)
    assert [e.id for e in events] == [str(i) for i in range(3, ids[-1] + 1)]
    listed = b.get("/api/jobs", params={"status": "completed"}).json()
    assert job_id in [j["jobId"] for j in listed["jobs"]]


def test_a_worker_killed_mid_job_loses_it_and_the_job_completes_once(
    deployment: Deployment, ab: tuple[httpx.Client, httpx.Client]
) -> None:
    a, b = ab
    for w in deployment.workers:
        w.stop()
    deployment.workers.clear()
    doomed = deployment.worker(workers=1)
    r = a.post("/api/jobs", json={"type": "sleep", "input": {"seconds": 2.0, "steps": 8}})
    job_id = r.json()["jobId"]
    for _ in range(100):  # long polls until the doomed worker is mid-job
        body = b.get(f"/api/jobs/{job_id}", params={"wait": 5, "progress": 1}).json()
        if body["status"] == "processing" and (body.get("progress") or {}).get("current", 0) >= 2:
            break
    doomed.kill()
    deployment.worker(workers=1)  # the survivor: it takes the job once the claim expired
    done = wait_terminal(b, job_id)
    assert done["status"] == "completed" and done["attempt"] == 1
    events, _ = parse_sse(
        a.get(f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": "0"}).content
    )
    kinds = Counter(e.event for e in events)
    assert kinds["complete"] == 1 and events[-1].data["status"] == "completed"
    processing = [
        e.data for e in events if e.event == "status" and e.data["status"] == "processing"
    ]
    assert processing == [{"status": "processing"}, {"status": "processing", "restarted": True}]
    restart = next(i for i, e in enumerate(events) if e.data.get("restarted"))
    rerun = [e.data["current"] for e in events[restart:] if e.event == "progress"]
    assert rerun == list(range(1, 9))  # run again from the start, to the end
    ids = [int(e.id or 0) for e in events]
    assert ids == list(range(1, len(events) + 1))


def test_cancel_through_b_stops_the_job_in_a_worker_process(
    deployment: Deployment, ab: tuple[httpx.Client, httpx.Client]
) -> None:
    a, b = ab
    for w in deployment.workers:
        w.stop()
    deployment.workers.clear()
    deployment.worker(workers=1)
    long = a.post("/api/jobs", json={"type": "sleep", "input": {"seconds": 300, "steps": 1}})
    job_id = long.json()["jobId"]
    for _ in range(100):  # a long poll holds while nothing changes: look first, then wait
        if b.get(f"/api/jobs/{job_id}").json()["status"] == "processing":
            break
        b.get(f"/api/jobs/{job_id}", params={"wait": 2})
    assert b.delete(f"/api/jobs/{job_id}").json() == {"jobId": job_id, "status": "cancelled"}
    quick = a.post("/api/jobs", json={"type": "echo", "input": {"x": 1}}).json()["jobId"]
    # the only worker slot is free again (its 300 s sleep stopped): the echo finishes
    assert wait_terminal(b, quick, limit=6)["status"] == "completed"
    assert b.get(f"/api/jobs/{job_id}").json()["status"] == "cancelled"


def test_100_submits_with_shared_keys_over_both_apis_make_one_job_per_key(
    deployment: Deployment, ab: tuple[httpx.Client, httpx.Client]
) -> None:
    clients = ab
    keys = [f"key-{uuid.uuid4().hex[:8]}-{i}" for i in range(20)]

    def submit(i: int) -> tuple[str, str, int]:
        key = keys[i % len(keys)]
        c = clients[i % 2]
        body = {"type": "echo", "input": {"key": key}}
        for _ in range(200):  # a 409 means "in flight": retry, as clients do
            r = c.post("/api/jobs", json=body, headers={"Idempotency-Key": key})
            if r.status_code != 409:
                break
        assert r.status_code in (200, 202), r.text
        return key, r.json()["jobId"], r.status_code

    def echo_total() -> int:
        return int(clients[0].get("/api/jobs", params={"type": "echo", "limit": 1}).json()["total"])

    before = echo_total()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(submit, range(100)))
    per_key: dict[str, set[str]] = {}
    for key, job_id, _ in results:
        per_key.setdefault(key, set()).add(job_id)
    assert all(len(ids) == 1 for ids in per_key.values()) and len(per_key) == 20
    assert Counter(status for *_, status in results)[202] == 20
    made = {job_id for ids in per_key.values() for job_id in ids}
    listed = clients[1].get("/api/jobs", params={"type": "echo", "limit": 100}).json()
    mine = {j["jobId"] for j in listed["jobs"] if j["jobId"] in made}
    assert mine == made and echo_total() == before + 20
    other = clients[1].post(
        "/api/jobs",
        json={"type": "echo", "input": {"other": 1}},
        headers={"Idempotency-Key": keys[0]},
    )
    assert other.status_code == 422  # the key was used for another payload, on the other API
