"""PROTOCOL.md conformance over loopback: Server-Sent Events and result downloads."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobctl.testing import ReferenceServer

from .conftest import (
    STORES,
    assert_problem,
    client,
    parse_sse,
    store_server,
    submit,
    wait_status,
    wait_terminal,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=STORES)
def srv(request: pytest.FixtureRequest) -> Iterator[ReferenceServer]:
    with store_server(request, args=("--quiet", "--keepalive", "0.2")) as s:
        yield s


@pytest.fixture
def c(srv: ReferenceServer) -> Iterator[httpx.Client]:
    with client(srv) as cl:
        yield cl


def _events(c: httpx.Client, job: str, **headers: str) -> tuple[httpx.Response, bytes]:
    r = c.get(f"/api/jobs/{job}/events", headers=headers)
    return r, r.content


# ---- SSE -------------------------------------------------------------------------------
def test_live_stream_framing_ids_and_complete(c: httpx.Client) -> None:
    job = submit(c, "sleep", seconds=0.6, steps=3)
    r, raw = _events(c, job)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-accel-buffering"] == "no"
    assert raw.startswith(b"retry: ")
    events, _ = parse_sse(raw)
    assert events[0].event == "status" and events[0].retry == 2000
    ids = [int(e.id) for e in events if e.id is not None]
    assert ids == sorted(set(ids)) and len(ids) == len(events)
    assert events[-1].event == "complete"
    assert events[-1].data["status"] == "completed"
    assert events[-1].data["resultUrl"].endswith(f"/api/jobs/{job}/result")
    progress = [e.data for e in events if e.event == "progress"]
    assert progress and progress[-1]["current"] == progress[-1]["total"] == 3
    assert all(e.event in ("status", "progress", "complete") for e in events)


def test_keepalive_comments_while_nothing_happens(c: httpx.Client) -> None:
    job = submit(c, "sleep", seconds=1.0, steps=1)
    _, raw = _events(c, job)
    events, comments = parse_sse(raw)
    assert "keepalive" in comments
    assert events[-1].event == "complete"


def test_terminal_job_without_last_event_id_gets_status_and_complete(c: httpx.Client) -> None:
    job = submit(c, "echo", a=1)
    wait_terminal(c, job)
    events, _ = parse_sse(_events(c, job)[1])
    assert [e.event for e in events] == ["status", "complete"]
    assert events[0].data["status"] == "completed"
    assert int(events[0].id or 0) < int(events[1].id or 0)


def test_replay_after_last_event_id_and_204_at_the_end(c: httpx.Client) -> None:
    job = submit(c, "sleep", seconds=0.3, steps=3)
    wait_terminal(c, job)
    full, _ = parse_sse(_events(c, job, **{"Last-Event-ID": "0"})[1])
    assert full[0].id == "1" and full[0].data == {"status": "pending"}
    assert full[-1].event == "complete"
    middle = full[2].id
    assert middle is not None
    replay, _ = parse_sse(_events(c, job, **{"Last-Event-ID": middle})[1])
    assert [e.id for e in replay] == [e.id for e in full[3:]]
    complete_id = full[-1].id
    assert complete_id is not None
    for lei in (complete_id, str(int(complete_id) + 5)):
        r, raw = _events(c, job, **{"Last-Event-ID": lei})
        assert r.status_code == 204 and raw == b""
    snapshot, _ = parse_sse(_events(c, job, **{"Last-Event-ID": "not-an-id"})[1])
    assert [e.event for e in snapshot] == ["status", "complete"]


def test_resume_of_a_running_job_replays_then_continues_live(c: httpx.Client) -> None:
    job = submit(c, "sleep", seconds=1.0, steps=5)
    body = c.get(f"/api/jobs/{job}", params={"wait": 10, "progress": 1}).json()
    while body["status"] == "pending" or not body.get("progress"):
        body = c.get(f"/api/jobs/{job}", params={"wait": 10, "progress": 1}).json()
    events, _ = parse_sse(_events(c, job, **{"Last-Event-ID": "1"})[1])
    assert events[0].id == "2"
    assert [int(e.id or 0) for e in events] == list(range(2, 2 + len(events)))
    assert events[-1].event == "complete"


def test_events_of_a_cancelled_and_a_failed_job_end_with_complete(c: httpx.Client) -> None:
    job = submit(c, "sleep", seconds=60, steps=60)
    wait_status(c, job, "processing")
    c.delete(f"/api/jobs/{job}")
    events, _ = parse_sse(_events(c, job)[1])
    assert events[-1].event == "complete"
    assert set(events[-1].data) == {"status", "job"}  # PROTOCOL.md: complete carries the job
    assert events[-1].data["status"] == events[-1].data["job"]["status"] == "cancelled"
    failed = submit(c, "fail", code="X", message="m", retryable=True)
    wait_terminal(c, failed)
    events, _ = parse_sse(_events(c, failed)[1])
    assert events[-1].data["error"] == {"code": "X", "message": "m", "retryable": True}


# ---- results --------------------------------------------------------------------------------
def test_result_headers_and_conditional_requests(c: httpx.Client) -> None:
    job = submit(c, "report", pages=40, format="csv", secondsPerPage=0)
    done = wait_terminal(c, job)
    r = c.get(done["resultUrl"])
    assert r.status_code == 200
    data = r.content
    assert r.headers["content-type"].startswith("text/csv")
    assert int(r.headers["content-length"]) == len(data) == done["output"]["sizeBytes"]
    assert r.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert re.fullmatch(
        r'attachment; filename="report-[0-9a-f]{8}\.csv"', r.headers["content-disposition"]
    )
    assert r.headers["accept-ranges"] == "bytes"
    assert data.startswith(b"page,line,value\r\n1,1,")
    assert data.count(b"\r\n") == 1 + 40 * 5
    etag = r.headers["etag"]
    assert c.get(done["resultUrl"], headers={"If-None-Match": etag}).status_code == 304
    head = c.head(done["resultUrl"])
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert head.content == b""


def test_range_requests(c: httpx.Client) -> None:
    done = wait_terminal(c, submit(c, "report", pages=30, format="json", secondsPerPage=0))
    url = done["resultUrl"]
    data = c.get(url).content
    size = len(data)
    etag = c.head(url).headers["etag"]
    cases = {
        "bytes=10-19": (10, 19),
        "bytes=-7": (size - 7, size - 1),
        f"bytes={size - 3}-": (size - 3, size - 1),
        f"bytes=5-{size + 100}": (5, size - 1),
    }
    for header, (start, end) in cases.items():
        r = c.get(url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert r.content == data[start : end + 1]
        assert int(r.headers["content-length"]) == end - start + 1
    bad = c.get(url, headers={"Range": f"bytes={size}-"})
    assert_problem(bad, 416)
    assert bad.headers["content-range"] == f"bytes */{size}"
    ok = c.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert ok.status_code == 206
    stale = c.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == data
    assert c.get(url, headers={"Range": "lines=1-2"}).status_code == 200


def test_pdf_report_is_a_valid_pdf(c: httpx.Client) -> None:
    done = wait_terminal(c, submit(c, "report", pages=4, format="pdf", secondsPerPage=0))
    pdf = c.get(done["resultUrl"]).content
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[startxref:].startswith(b"xref\n0 ")
    rows = pdf[startxref:].split(b"\n")
    count = int(rows[1].split()[1])
    assert count == 4 + 2 * 4  # free entry 0, catalog, pages, font, 2 per page
    for num, row in enumerate(rows[3 : 2 + count], start=1):
        offset = int(row.split()[0])
        assert pdf[offset:].startswith(b"%d 0 obj" % num)
    assert pdf.count(b"/Type /Page ") == 4
    again = wait_terminal(c, submit(c, "report", pages=4, format="pdf", secondsPerPage=0))
    assert c.get(again["resultUrl"]).content == pdf  # deterministic


def test_result_before_completion_is_409(c: httpx.Client) -> None:
    job = submit(c, "sleep", seconds=30, steps=30)
    assert_problem(c.get(f"/api/jobs/{job}/result"), 409)
    c.delete(f"/api/jobs/{job}")


@pytest.mark.parametrize("store", STORES)
def test_result_after_expiry_is_410(store: str, request: pytest.FixtureRequest) -> None:
    kw = {"store": request.getfixturevalue("redis_url")} if store == "redis" else {}
    with ReferenceServer(args=("--quiet", "--job-ttl", "0.3"), **kw) as s, client(s) as c:
        done = wait_terminal(c, submit(c, "echo", x=1))
        assert done["expiresAt"] > done["completedAt"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the server's own clock must pass expiresAt
            r = c.get(done["resultUrl"])
            if r.status_code == 410:
                break
            assert r.status_code == 200
            time.sleep(0.05)
        assert_problem(r, 410)
        assert c.get(f"/api/jobs/{done['jobId']}").json()["status"] == "completed"


def test_cancelling_a_blob_stops_it_and_leaves_no_file(
    srv: ReferenceServer, c: httpx.Client
) -> None:
    job = submit(c, "blob", sizeBytes=4 << 30, seed=1)  # would take far longer than this test
    body = wait_status(c, job, "processing")
    while not body.get("progress"):
        body = c.get(f"/api/jobs/{job}", params={"wait": 10, "progress": 1}).json()
    assert c.delete(f"/api/jobs/{job}").json()["status"] == "cancelled"
    results = Path(srv.db_path).parent / "jobctl-results"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the runner stops at its next step, removes its file
        if not any(p.name.startswith(job) for p in results.iterdir()):
            break
        time.sleep(0.05)  # an external process's file system: nothing to wait on
    assert not any(p.name.startswith(job) for p in results.iterdir())
    final = c.get(f"/api/jobs/{job}").json()
    assert final["status"] == "cancelled" and final["progress"]["current"] < 4 << 30
