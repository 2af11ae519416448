"""events, get by URL, cancel, retry, list and iter_jobs on the wire."""

from __future__ import annotations

import httpx
import pytest
import respx

from jobctl import ConflictError, Job, JobsClient, ProtocolError

from .conftest import API, TOKEN, FakeTime, accepted, job_body, problem, sse, sse_response

STATUS = f"{API}/api/jobs/j1"
EVENTS = f"{API}/api/jobs/j1/events"


def test_events_are_typed_and_end_with_the_job(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.get(EVENTS).mock(
        return_value=sse_response(
            sse(
                ("1", "status", {"status": "processing"}),
                ("2", "progress", {"current": 1, "total": 2, "message": "half"}),
                ("3", "complete", {"status": "failed", "error": {"code": "E1", "message": "bad"}}),
                ("4", "progress", {"current": 9, "total": 9}),  # after the end: never read
            )
        )
    )
    events = list(client.events("j1"))
    assert [(e.event, e.id, e.source) for e in events] == [
        ("status", "1", "sse"),
        ("progress", "2", "sse"),
        ("complete", "3", "sse"),
    ]
    assert events[1].progress is not None and events[1].progress.message == "half"
    assert events[2].error is not None and events[2].error.code == "E1" and events[2].is_terminal


def test_events_resume_from_a_given_id(client: JobsClient, mock: respx.MockRouter) -> None:
    route = mock.get(EVENTS).mock(
        return_value=sse_response(sse(("8", "complete", {"status": "completed"})))
    )
    assert [e.id for e in client.events("j1", last_event_id="7")] == ["8"]
    assert route.calls[0].request.headers["last-event-id"] == "7"


def test_events_fall_back_to_polls(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.get(EVENTS).mock(return_value=httpx.Response(404))
    mock.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, json=job_body(status="processing")),
            httpx.Response(200, json=job_body(status="processing")),
            httpx.Response(
                200, json=job_body(status="processing", progress={"current": 1, "total": 2})
            ),
            httpx.Response(200, json=job_body(status="cancelled")),
        ]
    )
    events = list(client.events("j1"))
    assert [(e.event, e.source) for e in events] == [
        ("status", "poll"),
        ("progress", "poll"),
        ("complete", "poll"),
    ]
    assert events[-1].job is not None and events[-1].job.status == "cancelled"


def test_a_status_url_is_used_as_given_but_the_token_stays_home(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    route = mock.get("https://other.test/v2/jobs/abc").mock(
        return_value=httpx.Response(200, json=job_body("abc", statusUrl=None))
    )
    job = client.get("https://other.test/v2/jobs/abc")
    assert job.id == "abc" and job.status_url == "https://other.test/v2/jobs/abc"
    # the token was configured for the base URL's origin: naming another origin's URL
    # does not send it there (point base_url at that server instead)
    assert "authorization" not in route.calls[0].request.headers
    home = mock.get(f"{API}/v2/jobs/abc").mock(
        return_value=httpx.Response(200, json=job_body("abc", statusUrl=None))
    )
    client.get(f"{API}/v2/jobs/abc")
    assert home.calls[0].request.headers["authorization"] == f"Bearer {TOKEN}"


def test_ids_are_quoted_into_the_path(client: JobsClient, mock: respx.MockRouter) -> None:
    route = mock.get(f"{API}/api/jobs/a%3Fb").mock(
        return_value=httpx.Response(200, json=job_body("a?b"))
    )
    assert client.get("a?b").id == "a?b" and route.call_count == 1


def test_cancel(client: JobsClient, mock: respx.MockRouter) -> None:
    route = mock.delete(STATUS).mock(
        return_value=httpx.Response(200, json={"jobId": "j1", "status": "cancelled"})
    )
    job = client.cancel(Job(job_id="j1"))
    assert job.status == "cancelled" and route.call_count == 1
    route.mock(return_value=problem(409, "job j1 is completed"))
    with pytest.raises(ConflictError, match="completed"):
        client.cancel("j1")


def test_retry_posts_with_a_key_and_returns_the_new_job(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{STATUS}/retry").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(
                202,
                json={
                    "jobId": "j2",
                    "originalJobId": "j1",
                    "status": "pending",
                    "statusUrl": f"{API}/api/jobs/j2",
                },
                headers={"Location": "/api/jobs/j2"},
            ),
        ]
    )
    new = client.retry("j1", idempotency_key="rk")
    assert new.id == "j2" and new.original_job_id == "j1" and new.idempotency_key == "rk"
    assert [c.request.headers["idempotency-key"] for c in route.calls] == ["rk", "rk"]


def test_retry_of_a_job_that_is_not_retryable_is_not_retried(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{STATUS}/retry").mock(
        return_value=problem(409, "job j1 failed with a non-retryable error")
    )
    with pytest.raises(ConflictError, match="non-retryable"):
        client.retry("j1")
    assert route.call_count == 1


def test_list_sends_filters_and_parses_the_page(client: JobsClient, mock: respx.MockRouter) -> None:
    route = mock.get(f"{API}/api/jobs").mock(
        return_value=httpx.Response(
            200, json={"jobs": [job_body("a"), job_body("b")], "total": 7, "nextOffset": 2}
        )
    )
    page = client.list(status=["pending", "processing"], type="sleep", limit=2)
    assert [j.id for j in page.jobs] == ["a", "b"] and page.total == 7 and page.next_offset == 2
    params = route.calls[0].request.url.params
    assert params.get_list("status") == ["pending", "processing"]
    assert params["type"] == "sleep" and params["limit"] == "2" and params["offset"] == "0"
    with pytest.raises(ValueError, match="limit"):
        client.list(limit=0)


def test_iter_jobs_walks_every_page(client: JobsClient, mock: respx.MockRouter) -> None:
    pages = {
        "0": {"jobs": [job_body("a"), job_body("b")], "total": 5, "nextOffset": 2},
        "2": {"jobs": [job_body("c"), job_body("d")], "total": 5, "nextOffset": 4},
        "4": {"jobs": [job_body("e")], "total": 5, "nextOffset": None},
    }
    mock.get(f"{API}/api/jobs").mock(
        side_effect=lambda request: httpx.Response(200, json=pages[request.url.params["offset"]])
    )
    assert [j.id for j in client.iter_jobs(limit=2)] == ["a", "b", "c", "d", "e"]


def test_iter_jobs_skips_jobs_shifted_by_new_submits(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    pages = {
        "0": {"jobs": [job_body("b"), job_body("a")], "total": 2, "nextOffset": 2},
        # a new job "c" arrived: "a" moved down onto the second page
        "2": {"jobs": [job_body("a")], "total": 3, "nextOffset": None},
    }
    mock.get(f"{API}/api/jobs").mock(
        side_effect=lambda request: httpx.Response(200, json=pages[request.url.params["offset"]])
    )
    assert [j.id for j in client.iter_jobs(limit=2)] == ["b", "a"]


def test_iter_jobs_refuses_a_page_loop(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.get(f"{API}/api/jobs").mock(
        return_value=httpx.Response(200, json={"jobs": [job_body()], "total": 9, "nextOffset": 0})
    )
    with pytest.raises(ProtocolError, match="does not advance"):
        list(client.iter_jobs())


def test_run_submits_waits_and_raises_for_status(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/api/jobs").mock(return_value=accepted())
    mock.get(EVENTS).mock(return_value=httpx.Response(404))
    mock.get(STATUS).mock(
        return_value=httpx.Response(
            200,
            json=job_body(status="failed", error={"code": "E", "message": "no", "retryable": True}),
        )
    )
    from jobctl import JobFailedError

    with pytest.raises(JobFailedError, match="E: no") as info:
        client.run("sleep", {"seconds": 1})
    assert info.value.job.error is not None and info.value.job.error.retryable
