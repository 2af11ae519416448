"""Hostile and malformed answers become clear, typed, bounded errors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from jobctl import (
    AuthError,
    JobsClient,
    NotFoundError,
    ProtocolError,
    RequestRejectedError,
    ServiceUnavailableError,
)

from .conftest import API, TOKEN, job_body, problem

HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
)


def test_problem_json_statuses_map_to_the_tree(client: JobsClient, mock: respx.MockRouter) -> None:
    route = mock.get(f"{API}/api/jobs/j1")
    cases = [
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (410, NotFoundError),
        (400, RequestRejectedError),
        (413, RequestRejectedError),
    ]
    for status, cls in cases:
        route.mock(return_value=problem(status, f"detail for {status}"))
        with pytest.raises(cls, match=f"detail for {status}") as info:
            client.get("j1")
        assert info.value.status_code == status
        assert TOKEN not in str(info.value)


def test_validation_details_are_kept(client: JobsClient, mock: respx.MockRouter) -> None:
    details = [{"loc": ["input", "pages"], "msg": "must be >= 1"}]
    mock.post(f"{API}/api/jobs").mock(return_value=problem(400, "bad input", details=details))
    with pytest.raises(RequestRejectedError) as info:
        client.submit("report", {"pages": 0})
    assert info.value.details == details


def test_html_from_a_proxy_gives_a_clear_error(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(502, content=HTML_502, headers={"content-type": "text/html"})
    )
    with pytest.raises(ServiceUnavailableError) as info:
        client.get("j1")
    message = str(info.value)
    assert "502" in message and "text/html" in message and "Bad Gateway" in message
    assert "<html>" not in message and len(message) < 400


def test_an_empty_error_body(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(return_value=httpx.Response(404))
    with pytest.raises(NotFoundError, match="empty error body"):
        client.get("j1")


def test_a_huge_error_body_is_read_bounded(client: JobsClient, mock: respx.MockRouter) -> None:
    served: list[int] = []

    def ten_megabytes() -> Iterator[bytes]:
        for _ in range(160):
            served.append(1)
            yield b"x" * 65536

    mock.get(f"{API}/api/jobs/j1").mock(return_value=httpx.Response(400, content=ten_megabytes()))
    with pytest.raises(RequestRejectedError) as info:
        client.get("j1")
    assert len(served) <= 3  # 64 KiB cap: the rest of the 10 MB is never read
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>oops</html>", "expected JSON"),
        (b"", "expected JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"status": "pending"}', "jobId"),
        (b'{"jobId": 5, "status": 7}', "not a valid job document"),
        (b'{"jobId": "j1", "output": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "nests more"),
        (b'{"jobId": "j1", "output": ' + b"[" * 500 + b"]" * 500 + b"}", "nests more"),
    ],
)
def test_a_malformed_success_body_is_a_protocol_error(
    client: JobsClient, mock: respx.MockRouter, body: bytes, why: str
) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(return_value=httpx.Response(200, content=body))
    with pytest.raises(ProtocolError, match=why):
        client.get("j1")


def test_unknown_fields_and_statuses_are_tolerated(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(200, json=job_body(status="queued-v2", shinyNewField=[1]))
    )
    job = client.get("j1")
    assert job.status == "queued-v2" and not job.is_terminal


def test_bad_job_references_are_refused_before_any_request(client: JobsClient) -> None:
    for bad in ("", "  ", "a/b", "id with space"):
        with pytest.raises(ValueError, match="job"):
            client.get(bad)


def test_deeply_nested_error_bodies_still_give_a_typed_error(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(404, content=b"[" * 60_000 + b"]" * 60_000)
    )
    with pytest.raises(NotFoundError, match="non-JSON error body"):
        client.get("j1")


def test_deeply_nested_event_data_is_skipped(client: JobsClient, mock: respx.MockRouter) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = (
        f"id: 1\nevent: progress\ndata: {deep}\n\n"
        'id: 2\nevent: complete\ndata: {"status": "completed"}\n\n'
    ).encode()
    mock.get(f"{API}/api/jobs/j1/events").mock(
        return_value=httpx.Response(
            200, content=body, headers={"content-type": "text/event-stream"}
        )
    )
    assert [e.id for e in client.events("j1")] == ["2"]
