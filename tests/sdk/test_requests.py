"""Exact wire behaviour of plain requests: headers, idempotency, transport retries, delays."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import respx

from jobctl import (
    JobctlError,
    JobsClient,
    PollPolicy,
    ServiceUnavailableError,
)
from jobctl.errors import ConflictError

from .conftest import API, TOKEN, FakeTime, accepted, job_body, problem


def test_submit_sends_the_contract_headers_and_body(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{API}/api/jobs").mock(return_value=accepted())
    job = client.submit(
        "report",
        {"pages": 3},
        webhook="https://hooks.example/x",
        priority=5,
        correlation_id="corr-1",
    )
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-correlation-id"] == "corr-1"
    assert request.headers["user-agent"].startswith("jobctl/")
    key = request.headers["idempotency-key"]
    assert len(key) == 36
    assert json.loads(request.content) == {
        "type": "report",
        "input": {"pages": 3},
        "webhook": {"url": "https://hooks.example/x"},
        "priority": 5,
    }
    assert job.id == "j1" and job.status == "pending" and job.type == "report"
    assert job.idempotency_key == key and not job.replayed
    assert job.status_url == f"{API}/api/jobs/j1"


def test_status_url_falls_back_to_location(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.post(f"{API}/api/jobs").mock(
        return_value=httpx.Response(202, json={"jobId": "j9"}, headers={"Location": "/api/jobs/j9"})
    )
    assert client.submit("echo").status_url == f"{API}/api/jobs/j9"


def test_a_reset_after_the_job_was_stored_reuses_the_key_and_reports_the_replay(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    route = mock.post(f"{API}/api/jobs").mock(
        side_effect=[
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            problem(503, "busy"),
            accepted(status_code=200, **{"Idempotent-Replayed": "true"}),
        ]
    )
    job = client.submit("sleep", {"seconds": 1}, idempotency_key=None)
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert route.call_count == 3 and len(keys) == 1
    assert job.replayed and job.idempotency_key in keys
    # equal-jitter backoff with rand=0.5: 0.5 -> 0.375, 1.0 -> 0.75
    assert fake_time.sleeps == [0.375, 0.75]


def test_retry_after_is_honoured_in_both_forms_and_hostile_values_are_tamed(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    date = "Fri, 15 Jan 2027 08:16:52 GMT"  # wall clock is 1_800_001_000 = 08:16:40
    mock.get(f"{API}/api/jobs/j1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503, headers={"Retry-After": date}),
            httpx.Response(503, headers={"Retry-After": "-1"}),
            httpx.Response(503, headers={"Retry-After": str(10**12)}),
            httpx.Response(200, json=job_body()),
        ]
    )
    client.get("j1")
    assert fake_time.sleeps[0] == 7.0
    assert fake_time.sleeps[1] == pytest.approx(12.0 - 7.0)  # the clock moved 7 s
    assert fake_time.sleeps[2] == 1.5  # -1 is "now": plain backoff (attempt 3)
    assert fake_time.sleeps[3] == 30.0  # 10**12 clamped to the cap


def test_malformed_retry_after_falls_back_to_backoff(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "Fri, 99 Nov 2026 99:00:00 GMT"}),
            httpx.Response(200, json=job_body()),
        ]
    )
    client.get("j1")
    assert fake_time.sleeps == [0.375]


def test_retries_stop_after_max_retries(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    route = mock.get(f"{API}/api/jobs/j1").mock(return_value=problem(502, "upstream down"))
    with pytest.raises(ServiceUnavailableError, match="upstream down") as info:
        client.get("j1")
    assert route.call_count == 5 and len(fake_time.sleeps) == 4
    assert info.value.status_code == 502


def test_500_is_retried_for_get_but_not_for_a_post(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    get = mock.get(f"{API}/api/jobs/j1").mock(
        side_effect=[problem(500), httpx.Response(200, json=job_body())]
    )
    client.get("j1")
    assert get.call_count == 2
    post = mock.post(f"{API}/api/jobs").mock(return_value=problem(500, "boom"))
    with pytest.raises(ServiceUnavailableError, match="boom"):
        client.submit("echo")
    assert post.call_count == 1


def test_connection_errors_are_retried_then_mapped(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ServiceUnavailableError, match="could not connect") as info:
        client.get("j1")
    assert info.value.status_code is None and TOKEN not in str(info.value)


def test_max_retries_zero_sends_once(fake_time: FakeTime, mock: respx.MockRouter) -> None:
    route = mock.get(f"{API}/api/jobs/j1").mock(return_value=problem(503))
    with (
        JobsClient(
            API, TOKEN, max_retries=0, _sleep=fake_time.sleep, _runtime=fake_time.runtime()
        ) as c,
        pytest.raises(ServiceUnavailableError),
    ):
        c.get("j1")
    assert route.call_count == 1 and fake_time.sleeps == []


def test_in_flight_409_is_retried_with_the_same_key(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    route = mock.post(f"{API}/api/jobs").mock(
        side_effect=[problem(409, "a request with this Idempotency-Key is in flight"), accepted()]
    )
    client.submit("echo", idempotency_key="my-key")
    assert [c.request.headers["idempotency-key"] for c in route.calls] == ["my-key", "my-key"]
    assert len(fake_time.sleeps) == 1 and fake_time.sleeps[0] < 1


def test_a_409_that_stays_is_bounded(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    route = mock.post(f"{API}/api/jobs").mock(return_value=problem(409, "in flight"))
    with pytest.raises(ConflictError):
        client.submit("echo")
    assert route.call_count == 7 and sum(fake_time.sleeps) < 15


def test_key_reuse_with_another_payload_is_a_clear_conflict(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/api/jobs").mock(return_value=problem(422, "key reused"))
    with pytest.raises(ConflictError, match="already used for a different request"):
        client.submit("echo", idempotency_key="k")


def test_requests_are_logged_at_debug_without_the_token(
    client: JobsClient, mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(
        side_effect=[problem(503), httpx.Response(200, json=job_body())]
    )
    with caplog.at_level(logging.DEBUG, logger="jobctl"):
        client.get("j1")
    text = caplog.text
    assert TOKEN not in text
    assert "[redacted]" in text
    assert "status 503; retry 1/4" in text
    assert TOKEN not in repr(client)


def test_poll_policy_and_timeout_validation() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        JobsClient(API, TOKEN, max_retries=-1)
    with pytest.raises(JobctlError, match="http"):
        JobsClient("ftp://x", TOKEN)
    assert JobsClient(API, TOKEN).poll == PollPolicy()


def test_settings_fall_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch, mock: respx.MockRouter
) -> None:
    monkeypatch.setenv("JOBCTL_URL", "http://env.test:9000/")
    monkeypatch.setenv("JOBCTL_TOKEN", "env-token")
    route = mock.get("http://env.test:9000/api/jobs/j1").mock(
        return_value=httpx.Response(200, json=job_body())
    )
    with JobsClient() as c:
        assert c.base_url == "http://env.test:9000"
        c.get("j1")
    assert route.calls[0].request.headers["authorization"] == "Bearer env-token"


def test_a_caller_supplied_http_client_is_used_and_left_open() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_body())

    own = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
    with JobsClient(API, TOKEN, http_client=own) as c:
        c.get("j1")
    assert len(seen) == 1 and not own.is_closed
    own.close()


def test_a_ca_bundle_path_becomes_an_ssl_context(tmp_path: Path) -> None:
    import ssl

    import certifi

    from jobctl._io.base import tls_verify

    assert isinstance(tls_verify(certifi.where()), ssl.SSLContext)
    assert isinstance(tls_verify(str(tmp_path)), ssl.SSLContext)
    assert tls_verify(False) is False
    with pytest.raises(ValueError, match="CA bundle not found"):
        JobsClient(API, TOKEN, verify=str(tmp_path / "missing.pem"))


def test_bad_keys_and_ids_are_refused_before_sending(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{API}/api/jobs")
    for bad in ("", "with space", "ключ", "x" * 256):
        with pytest.raises(ValueError, match="idempotency_key"):
            client.submit("echo", idempotency_key=bad)
    with pytest.raises(ValueError, match="correlation_id"):
        client.submit("echo", correlation_id="line\nbreak")
    assert route.call_count == 0


def test_a_token_that_cannot_travel_is_refused_without_being_shown() -> None:
    with pytest.raises(ValueError, match="token") as info:
        JobsClient(API, "tökén with spaces")
    assert "tökén" not in str(info.value)


def test_a_submit_timeout_bounds_every_retry(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    route = mock.post(f"{API}/api/jobs").mock(
        side_effect=lambda request: (fake_time.sleep(1.5), httpx.Response(503))[1]
    )
    with pytest.raises(ServiceUnavailableError):
        client.submit("echo", timeout=2.0)
    assert route.call_count == 2  # 1.5 s, a 0.375 s backoff, then the deadline passed
    timeouts = [c.request.extensions["timeout"] for c in route.calls]
    assert timeouts[0]["read"] == 3.0 and timeouts[0]["connect"] == 3.0


def test_run_has_one_deadline_for_submit_and_wait(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    from jobctl import WaitTimeoutError

    mock.post(f"{API}/api/jobs").mock(
        side_effect=[problem(503), problem(503), accepted()]  # 0.375 + 0.75 s of backoff
    )
    mock.get(f"{API}/api/jobs/j1/events").mock(return_value=httpx.Response(404))
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(200, json=job_body(), headers={"Retry-After": "1"})
    )
    with pytest.raises(WaitTimeoutError):
        client.run("echo", timeout=3.0)
    assert fake_time.now - 1000.0 == pytest.approx(3.0)
