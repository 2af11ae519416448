"""Waiting: SSE first, long polls, polls; hints, jitter-free delays, one overall deadline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from jobctl import (
    Job,
    JobsClient,
    PollPolicy,
    ProtocolError,
    ServiceUnavailableError,
    WaitTimeoutError,
)

from .conftest import API, TOKEN, FakeTime, job_body, sse, sse_response

STATUS = f"{API}/api/jobs/j1"
EVENTS = f"{API}/api/jobs/j1/events"


def running(current: int, total: int = 4, **extra: Any) -> dict[str, Any]:
    return job_body(status="processing", progress={"current": current, "total": total}, **extra)


def done() -> httpx.Response:
    return httpx.Response(
        200, json=job_body(status="completed", resultUrl="/api/jobs/j1/result", output={"n": 1})
    )


def progress_log() -> tuple[list[tuple[str, int | None]], Any]:
    seen: list[tuple[str, int | None]] = []

    def on_progress(job: Job) -> None:
        seen.append((str(job.status), job.progress.current if job.progress else None))

    return seen, on_progress


def test_polls_honour_header_then_body_hints_then_backoff(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    route = mock.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, json=job_body(), headers={"Retry-After": "3"}),
            httpx.Response(200, json=running(1, retryAfter=2)),
            httpx.Response(200, json=running(2)),
            done(),
        ]
    )
    seen, on_progress = progress_log()
    job = client.wait("j1", strategy="poll", on_progress=on_progress)
    assert job.status == "completed" and job.result_url == f"{API}/api/jobs/j1/result"
    assert fake_time.sleeps == [3.0, 2.0, 4.0]  # hint, hint, then initial*factor**2
    assert seen == [("pending", None), ("processing", 1), ("processing", 2), ("completed", None)]
    assert all("prefer" not in c.request.headers for c in route.calls)


def test_hints_are_clamped_to_the_policy(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, json=job_body(), headers={"Retry-After": "3600"}),
            httpx.Response(200, json=job_body(retryAfter=0)),
            done(),
        ]
    )
    client.wait("j1", strategy="poll")
    assert fake_time.sleeps == [8.0, 0.05]  # max_interval, and the 50 ms floor


def test_estimated_completion_shortens_the_wait(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    # the wall clock is 1_800_001_000 = 2027-01-15T08:16:40Z
    mock.get(STATUS).mock(
        side_effect=[
            httpx.Response(
                200,
                json=running(1, estimatedCompletion="2027-01-15T08:16:42Z"),
                headers={"Retry-After": "6"},
            ),
            done(),
        ]
    )
    client.wait("j1", strategy="poll")
    assert fake_time.sleeps == [2.0]


def test_one_deadline_bounds_the_whole_wait(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.get(STATUS).mock(
        return_value=httpx.Response(200, json=running(1), headers={"Retry-After": "4"})
    )
    with pytest.raises(WaitTimeoutError) as info:
        client.wait("j1", timeout=10, strategy="poll")
    assert fake_time.sleeps == [4.0, 4.0, 2.0]
    assert info.value.job is not None and info.value.job.progress is not None
    assert info.value.job.progress.current == 1
    assert "timed out after 10s" in str(info.value)


def test_a_303_from_the_status_url_means_completed_and_is_not_followed(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    status = mock.get(STATUS).mock(
        return_value=httpx.Response(303, headers={"Location": "https://cdn.test/r/j1?sig=abc"})
    )
    cdn = mock.get("https://cdn.test/r/j1")
    job = client.wait("j1", strategy="poll")
    assert job.status == "completed" and job.result_url == "https://cdn.test/r/j1?sig=abc"
    assert status.call_count == 1 and cdn.call_count == 0


def long_poll_client(fake_time: FakeTime) -> JobsClient:
    return JobsClient(
        API,
        TOKEN,
        poll=PollPolicy(initial=1.0, factor=2.0, max_interval=8.0, jitter=0.0, long_poll=30),
        _sleep=fake_time.sleep,
        _runtime=fake_time.runtime(),
    )


def test_long_polls_when_the_server_honours_them(
    fake_time: FakeTime, mock: respx.MockRouter
) -> None:
    applied = {"Preference-Applied": "wait=30"}
    route = mock.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, json=job_body(), headers=applied),
            httpx.Response(200, json=running(1), headers=applied),
            done(),
        ]
    )
    with long_poll_client(fake_time) as c:
        c.wait("j1", strategy="poll")
    assert [call.request.headers.get("prefer") for call in route.calls] == ["wait=30"] * 3
    assert route.calls[0].request.extensions["timeout"]["read"] == 40.0  # > the wait
    assert fake_time.sleeps == []


def test_long_poll_wait_is_bounded_by_the_deadline(
    fake_time: FakeTime, mock: respx.MockRouter
) -> None:
    route = mock.get(STATUS).mock(side_effect=[done()])
    with long_poll_client(fake_time) as c:
        c.wait("j1", strategy="poll", timeout=12.5)
    assert route.calls[0].request.headers["prefer"] == "wait=12"


def test_a_server_that_ignores_prefer_gets_plain_polls(
    fake_time: FakeTime, mock: respx.MockRouter
) -> None:
    route = mock.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, json=job_body()),
            httpx.Response(200, json=running(1)),
            done(),
        ]
    )
    with long_poll_client(fake_time) as c:
        c.wait("j1", strategy="poll")
    prefer = [call.request.headers.get("prefer") for call in route.calls]
    assert prefer == ["wait=30", None, None]
    assert fake_time.sleeps == [1.0, 2.0]


# -- SSE ----------------------------------------------------------------------------


def test_follows_the_event_stream(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    events = mock.get(EVENTS).mock(
        return_value=sse_response(
            sse(
                ("1", "status", {"status": "processing", "progress": {"current": 0, "total": 2}}),
                ("2", "progress", {"current": 1, "total": 2}),
                ("3", "progress", {"current": 2, "total": 2}),
                ("4", "complete", {"status": "completed", "resultUrl": "/api/jobs/j1/result"}),
                retry=500,
            )
        )
    )
    status = mock.get(STATUS).mock(return_value=done())
    seen, on_progress = progress_log()
    job = client.wait("j1", on_progress=on_progress)
    assert job.status == "completed" and job.output == {"n": 1}
    request = events.calls.last.request
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert "last-event-id" not in request.headers
    assert seen == [("processing", 0), ("processing", 1), ("processing", 2), ("completed", 2)]
    assert status.call_count == 1 and fake_time.sleeps == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404),
        httpx.Response(405),
        httpx.Response(406),
        httpx.Response(200, content=b"<html>proxy</html>", headers={"content-type": "text/html"}),
    ],
)
def test_no_stream_falls_back_to_polling(
    client: JobsClient, mock: respx.MockRouter, answer: httpx.Response
) -> None:
    events = mock.get(EVENTS).mock(return_value=answer)
    status = mock.get(STATUS).mock(side_effect=[httpx.Response(200, json=running(1)), done()])
    seen, on_progress = progress_log()
    assert client.wait("j1", on_progress=on_progress).status == "completed"
    assert events.call_count == 1 and status.call_count == 2
    assert seen == [("processing", 1), ("completed", None)]


def test_a_buffering_proxy_that_sends_nothing_falls_back(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    events = mock.get(EVENTS).mock(side_effect=httpx.ReadTimeout("no bytes"))
    mock.get(STATUS).mock(return_value=done())
    assert client.wait("j1").status == "completed"
    assert events.call_count == 1
    assert events.calls[0].request.extensions["timeout"]["read"] == 20.0


def test_a_dropped_stream_resumes_with_last_event_id_and_drops_duplicates(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    first = sse(
        ("1", "status", {"status": "processing", "progress": {"current": 0, "total": 3}}),
        ("2", "progress", {"current": 1, "total": 3}),
        retry=250,
    )
    second = sse(
        ("2", "progress", {"current": 1, "total": 3}),
        ("3", "progress", {"current": 2, "total": 3}),
        ("4", "complete", {"status": "completed"}),
    )
    events = mock.get(EVENTS).mock(side_effect=[sse_response(first), sse_response(second)])
    mock.get(STATUS).mock(return_value=done())
    seen, on_progress = progress_log()
    client.wait("j1", on_progress=on_progress)
    assert events.calls[1].request.headers["last-event-id"] == "2"
    assert fake_time.sleeps == [0.25]  # the server's retry:
    assert seen == [("processing", 0), ("processing", 1), ("processing", 2), ("completed", 2)]


def test_a_stream_that_keeps_dropping_falls_back_to_polling(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    events = mock.get(EVENTS).mock(side_effect=lambda request: sse_response(b": hi\n\n"))
    status = mock.get(STATUS).mock(return_value=done())
    assert client.wait("j1").status == "completed"
    assert events.call_count == 5 and status.call_count == 1
    assert fake_time.sleeps == [1.0, 1.5, 2.25, 3.375]


def test_a_stream_of_keepalives_does_not_defeat_the_deadline(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    def keepalives() -> Iterator[bytes]:
        yield sse(("1", "status", {"status": "processing"}))
        for _ in range(1000):
            fake_time.now += 15.0  # a keepalive every 15 s
            yield b": keepalive\n\n"

    mock.get(EVENTS).mock(side_effect=lambda request: sse_response(keepalives()))
    with pytest.raises(WaitTimeoutError) as info:
        client.wait("j1", timeout=40)
    assert fake_time.now - 1000.0 == 45.0  # gave up at the first keepalive past 40 s
    assert info.value.job is not None and info.value.job.status == "processing"


def test_the_stream_read_timeout_shrinks_with_the_deadline(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    events = mock.get(EVENTS).mock(side_effect=httpx.ReadTimeout("silence"))
    mock.get(STATUS).mock(return_value=done())
    client.wait("j1", timeout=3)
    assert events.calls[0].request.extensions["timeout"]["read"] == 3.0


def test_strategy_sse_does_not_fall_back(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.get(EVENTS).mock(return_value=httpx.Response(404))
    with pytest.raises(ProtocolError, match="event stream"):
        client.wait("j1", strategy="sse")


def test_refused_reconnects_are_retried_with_retry_after_not_counted_as_drops(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    stream = sse(("1", "complete", {"status": "completed", "resultUrl": "/api/jobs/j1/result"}))
    refusals = [httpx.Response(503, headers={"Retry-After": "3"}) for _ in range(6)]
    events = mock.get(EVENTS).mock(side_effect=[*refusals, sse_response(stream)])
    mock.get(STATUS).mock(return_value=done())
    assert client.wait("j1", strategy="sse").status == "completed"
    assert events.call_count == 7  # six refusals ridden out, more than the 5 drops allowed
    assert fake_time.sleeps == [3.0] * 6  # Retry-After honoured each time


def test_a_stream_refused_for_good_is_the_service_being_unavailable(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    events = mock.get(EVENTS).mock(return_value=httpx.Response(503))
    with pytest.raises(ServiceUnavailableError) as info:
        client.wait("j1", strategy="sse")
    assert not isinstance(info.value, ProtocolError)
    assert events.call_count == 1 + 4 * 4  # max_retries x (OUTAGE_ROUNDS + 1) retries
    assert max(fake_time.sleeps) <= 4.0  # short pauses, as a poll's retries have


def test_a_job_that_ended_answers_204_to_a_resume(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.get(EVENTS).mock(return_value=httpx.Response(204))
    mock.get(STATUS).mock(return_value=done())
    assert client.wait("j1").status == "completed"


def test_a_terminal_job_passed_in_needs_no_request(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    job = Job(job_id="j1", status="failed")
    assert client.wait(job) is job


def test_bad_arguments(client: JobsClient) -> None:
    with pytest.raises(ValueError, match="strategy"):
        client.wait("j1", strategy="smoke-signals")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        client.wait("j1", timeout=-1)


def test_transport_retries_inside_a_wait_stop_at_the_deadline(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    from jobctl import ServiceUnavailableError

    route = mock.get(STATUS).mock(return_value=httpx.Response(503, headers={"Retry-After": "30"}))
    with pytest.raises(ServiceUnavailableError):
        # never seen running: the deadline is judged after one more look, and the
        # look says the service is unavailable (exit 8), not "still running" (7)
        client.wait("j1", timeout=5, strategy="poll")
    assert fake_time.sleeps == [5.0] and route.call_count == 3
    assert route.calls[0].request.extensions["timeout"]["read"] == 6.0


@pytest.mark.parametrize("strategy", ["auto", "poll", "sse"])
@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_timeout_zero_looks_once_and_reports_what_it_saw(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime, strategy: str, status: str
) -> None:
    route = mock.get(STATUS).mock(return_value=httpx.Response(200, json=job_body(status=status)))
    events = mock.get(f"{STATUS}/events")
    job = client.wait("j1", timeout=0, strategy=strategy)  # type: ignore[arg-type]
    assert job.status == status and route.call_count == 1 and events.call_count == 0
    assert fake_time.sleeps == []


def test_timeout_zero_on_a_running_job_times_out_with_the_snapshot(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.get(STATUS).mock(return_value=httpx.Response(200, json=job_body(status="processing")))
    with pytest.raises(WaitTimeoutError) as info:
        client.wait("j1", timeout=0)
    assert info.value.job is not None and info.value.job.status == "processing"


def test_a_deadline_that_passes_before_the_first_answer_still_looks(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    answers = [httpx.Response(503, headers={"Retry-After": "9"}), done()]
    route = mock.get(STATUS).mock(side_effect=answers)
    assert client.wait("j1", timeout=2, strategy="poll").status == "completed"
    assert route.call_count == 2 and fake_time.sleeps == [2.0]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, -0.5, "5", True, [1]])
def test_a_timeout_that_is_not_seconds_is_one_value_error_in_wait_and_run(
    client: JobsClient, mock: respx.MockRouter, bad: object
) -> None:
    for call in (lambda: client.wait("j1", timeout=bad), lambda: client.run("echo", timeout=bad)):  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^timeout must be") as info:
            call()
        assert "\n" not in str(info.value)
    assert mock.calls.call_count == 0


def test_a_wait_rides_out_an_outage_longer_than_one_requests_retries(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    down = [httpx.ConnectError("refused")] * 10  # two polls' worth of transport retries
    route = mock.get(STATUS).mock(side_effect=[*down, done()])
    assert client.wait("j1", strategy="poll").status == "completed"
    assert route.call_count == 11


def test_a_wait_gives_up_on_a_server_that_stays_down(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    from jobctl import ServiceUnavailableError

    route = mock.get(STATUS).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ServiceUnavailableError, match="could not connect"):
        client.wait("j1", strategy="poll")
    assert route.call_count == 4 * 5  # 1 + 3 rounds, each with 4 transport retries


def test_on_connection_hears_the_outage_and_the_return(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    from jobctl import ConnectionEvent

    down = [httpx.ConnectError("refused")] * 7  # one poll's retries, then into the next
    mock.get(STATUS).mock(side_effect=[*down, done()])
    heard: list[ConnectionEvent] = []
    progress: list[str] = []
    job = client.wait(
        "j1",
        timeout=120,
        strategy="poll",
        on_connection=heard.append,
        on_progress=lambda j: progress.append(str(j.status)),
    )
    assert job.status == "completed" and progress == ["completed"]
    lost = [e for e in heard if not e.ok]
    assert len(lost) == 7 and all("connect" in e.reason for e in lost)
    assert all(e.retry_in is not None and e.deadline_left is not None for e in lost)
    assert heard[-1].ok and all(not e.ok for e in heard[:-1] if e is not heard[-1])
    # the events of an outage never reach callers that did not ask for them
    mock.get(EVENTS).mock(return_value=httpx.Response(404))
    mock.get(STATUS).mock(side_effect=[httpx.ConnectError("refused"), done()])
    assert [e.event for e in client.events("j1")] == ["complete"]


def test_a_complete_event_with_the_job_ends_the_wait_without_another_request(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    doc = job_body(status="completed", resultUrl="/api/jobs/j1/result", output={"n": 1})
    body = sse(
        ("1", "status", {"status": "processing"}),
        ("2", "complete", {"status": "completed", "resultUrl": "/api/jobs/j1/result", "job": doc}),
    )
    events = mock.get(EVENTS).mock(return_value=sse_response(body))
    status = mock.get(STATUS)
    job = client.wait("j1", strategy="sse")
    assert job.status == "completed" and job.output == {"n": 1}
    assert job.result_url == f"{API}/api/jobs/j1/result"
    assert events.call_count == 1 and status.call_count == 0  # one request in all


def test_a_complete_event_without_the_job_still_reads_the_status_once(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    body = sse(("1", "complete", {"status": "completed"}))
    mock.get(EVENTS).mock(return_value=sse_response(body))
    status = mock.get(STATUS).mock(return_value=done())
    assert client.wait("j1", strategy="sse").status == "completed"
    assert status.call_count == 1


@pytest.mark.parametrize("listening", [False, True])
def test_long_polls_ask_for_progress_only_when_someone_listens(
    mock: respx.MockRouter, fake_time: FakeTime, listening: bool
) -> None:
    from jobctl import PollPolicy

    applied = {"Preference-Applied": "wait=30"}
    route = mock.get(STATUS).mock(
        side_effect=[
            httpx.Response(200, json=job_body(status="processing"), headers=applied),
            httpx.Response(200, json=job_body(status="completed"), headers=applied),
        ]
    )
    with JobsClient(
        API,
        TOKEN,
        poll=PollPolicy(long_poll=30),
        _sleep=fake_time.sleep,
        _runtime=fake_time.runtime(),
    ) as client:
        seen: list[str] = []
        client.wait(
            "j1",
            strategy="poll",
            on_progress=(lambda j: seen.append(str(j.status))) if listening else None,
        )
    prefer = [c.request.headers["prefer"] for c in route.calls]
    assert prefer == (["wait=30, progress"] * 2 if listening else ["wait=30"] * 2)
