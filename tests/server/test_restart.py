"""Persistence: kill -9 the server with running jobs, start it again on the same store."""

from __future__ import annotations

import pytest

from jobctl.testing import ReferenceServer

from .conftest import STORES, client, parse_sse, submit, wait_status, wait_terminal

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("store", STORES)
def test_every_job_reaches_a_terminal_state_after_a_crash(
    store: str, request: pytest.FixtureRequest
) -> None:
    args = ("--quiet", "--workers", "2")
    if store == "redis":  # a crashed process's claims lapse after the visibility timeout
        s = ReferenceServer(
            store=request.getfixturevalue("redis_url"),
            args=(*args, "--visibility-timeout", "1"),
        )
    else:
        s = ReferenceServer(args=args)
    s.start()
    try:
        port = s.port
        with client(s) as c:
            finished = submit(c, "report", pages=3, format="csv", secondsPerPage=0)
            result_before = c.get(wait_terminal(c, finished)["resultUrl"]).content
            keyed = c.post(
                "/api/jobs",
                json={"type": "sleep", "input": {"seconds": 0.8}},
                headers={"Idempotency-Key": "survives"},
            ).json()["jobId"]
            jobs = [keyed] + [submit(c, "sleep", seconds=0.8, steps=8) for _ in range(4)]
            cancelled = submit(c, "sleep", seconds=30)
            c.delete(f"/api/jobs/{cancelled}")
            running = wait_status(c, jobs[0], "processing")
            assert running["status"] == "processing"
        s.kill()  # SIGKILL: no shutdown code runs
        assert not s.running
        s.start()
        assert s.port == port
        with client(s) as c:
            for job in jobs:
                body = wait_terminal(c, job)
                assert body["status"] == "completed", body
                events, _ = parse_sse(
                    c.get(f"/api/jobs/{job}/events", headers={"Last-Event-ID": "0"}).content
                )
                ids = [int(e.id or 0) for e in events]
                assert ids == list(range(1, len(ids) + 1))
                assert [e.event for e in events].count("complete") == 1
            assert c.get(f"/api/jobs/{cancelled}").json()["status"] == "cancelled"
            assert c.get(f"/api/jobs/{finished}/result").content == result_before
            replay = c.post(
                "/api/jobs",
                json={"type": "sleep", "input": {"seconds": 0.8}},
                headers={"Idempotency-Key": "survives"},
            )
            assert replay.status_code == 200 and replay.json()["jobId"] == keyed
        s.restart()  # a graceful restart keeps everything too
        with client(s) as c:
            page = c.get("/api/jobs", params={"limit": 100}).json()
            assert page["total"] == 7
            assert all(j["status"] in ("completed", "cancelled") for j in page["jobs"])
    finally:
        s.stop()
