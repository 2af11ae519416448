"""Hostile documents (respx): whatever shape a 2xx body has, the SDK answers with a valid
``Job`` or a ``jobctl`` error that names the problem — never a pydantic, JSON, Key, Type
or Recursion error from inside.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from jobctl import AsyncJobsClient, JobctlError, JobsClient, ProtocolError

pytestmark = pytest.mark.timeout(30)

API = "http://api.hostile.test"
TOKEN = "respx-hostile-token-5d2e"
GOOD = {
    "jobId": "j1",
    "type": "sleep",
    "status": "processing",
    "createdAt": "2026-11-27T17:40:00Z",
    "updatedAt": "2026-11-27T17:40:00Z",
}


def body(**changes: Any) -> bytes:
    """GOOD with fields replaced (None removes a field)."""
    doc = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return json.dumps(doc).encode()


NESTED = b"[" * 200_000 + b"]" * 200_000


STATUS_BODIES = {
    "not-json": b"{not json",
    "html": b"<html><body>502 Bad Gateway</body></html>",
    "empty": b"",
    "array": b"[]",
    "null": b"null",
    "string": b'"completed"',
    "number": b"42",
    "no-job-id": body(jobId=None),
    "job-id-number": body(jobId=5),
    "job-id-object": body(jobId={"a": 1}),
    "status-number": body(status=5),
    "status-list": body(status=["completed"]),
    "progress-string": body(progress="half"),
    "progress-fields": body(progress={"current": "a", "total": []}),
    "bad-date": body(createdAt="yesterday"),
    "error-string": body(status="failed", error="boom"),
    "nested-200k": NESTED,
    "nested-object": b'{"jobId":' * 50_000 + b"1" + b"}" * 50_000,
    "invalid-utf8": b'{"jobId": "\xff\xfe", "status": "completed"}',
    "nan": b'{"jobId": "j1", "status": "processing", "progress": {"current": NaN, "total": 1e999}}',
}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def acceptable(outcome: Any) -> None:
    """A jobctl error with a message, or a job whose id is a string."""
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, JobctlError), repr(outcome)
        text = str(outcome)
        assert text and len(text) < 1000 and TOKEN not in text
        assert "\n" not in text.strip()
    else:
        assert isinstance(outcome.id, str) and outcome.id


def _sync(call: str) -> Any:
    with JobsClient(API, TOKEN, max_retries=0, _sleep=lambda s: None) as c:
        try:
            return getattr(c, call)("j1")
        except BaseException as exc:
            return exc


async def _async(call: str) -> Any:
    async def no_sleep(s: float) -> None:
        return None

    async with AsyncJobsClient(API, TOKEN, max_retries=0, _sleep=no_sleep) as c:
        try:
            return await getattr(c, call)("j1")
        except BaseException as exc:
            return exc


@pytest.mark.parametrize("name", list(STATUS_BODIES))
def test_hostile_status_bodies(mock: respx.MockRouter, name: str) -> None:
    content = STATUS_BODIES[name]
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(
            200, content=content, headers={"Content-Type": "application/json"}
        )
    )
    mock.delete(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(
            200, content=content, headers={"Content-Type": "application/json"}
        )
    )
    for call in ("get", "cancel"):
        acceptable(_sync(call))
        acceptable(asyncio.run(_async(call)))


LIST_BODIES = {
    "jobs-string": b'{"jobs": "x", "total": 1}',
    "total-string": b'{"jobs": [], "total": "many"}',
    "job-broken": b'{"jobs": [{"status": 1}], "total": 1}',
    "next-offset-list": b'{"jobs": [], "total": 0, "nextOffset": [1]}',
    "nested": NESTED,
}


@pytest.mark.parametrize("name", list(LIST_BODIES))
def test_hostile_list_bodies(mock: respx.MockRouter, name: str) -> None:
    mock.get(f"{API}/api/jobs").mock(
        return_value=httpx.Response(
            200, content=LIST_BODIES[name], headers={"Content-Type": "application/json"}
        )
    )
    with JobsClient(API, TOKEN, max_retries=0) as c:
        try:
            outcome: Any = c.list()
        except BaseException as exc:
            outcome = exc
    assert isinstance(outcome, JobctlError), repr(outcome)
    assert TOKEN not in str(outcome)


SUBMIT_BODIES = {
    "not-json": (b"{nope", {}),
    "no-id-but-location": (b'{"status": "pending"}', {"Location": "/api/jobs/from-location"}),
    "no-id-no-location": (b'{"status": "pending"}', {}),
    "id-null": (b'{"jobId": null}', {}),
    "nested": (NESTED, {}),
}


@pytest.mark.parametrize("name", list(SUBMIT_BODIES))
def test_hostile_submit_answers(mock: respx.MockRouter, name: str) -> None:
    content, headers = SUBMIT_BODIES[name]
    mock.post(f"{API}/api/jobs").mock(
        return_value=httpx.Response(
            202, content=content, headers={"Content-Type": "application/json", **headers}
        )
    )
    with JobsClient(API, TOKEN, max_retries=0) as c:
        try:
            outcome: Any = c.submit("echo", {})
        except BaseException as exc:
            outcome = exc
    acceptable(outcome)
    if name == "no-id-but-location" and not isinstance(outcome, BaseException):
        assert outcome.id == "from-location"


EVENT_STREAMS = {
    "data-not-json": b"id: 1\nevent: status\ndata: {nope\n\n",
    "data-wrong-types": b'id: 1\nevent: progress\ndata: {"current": "x", "total": {}}\n\n',
    "complete-no-status": b"id: 1\nevent: complete\ndata: {}\n\n",
    "nested": b"id: 1\nevent: status\ndata: " + b"[" * 100_000 + b"\n\n",
}


@pytest.mark.parametrize("name", list(EVENT_STREAMS))
def test_hostile_event_data(mock: respx.MockRouter, name: str) -> None:
    mock.get(f"{API}/api/jobs/j1/events").mock(
        return_value=httpx.Response(
            200, content=EVENT_STREAMS[name], headers={"Content-Type": "text/event-stream"}
        )
    )
    done = body(status="completed", resultUrl="/api/jobs/j1/result")
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(200, content=done, headers={"Content-Type": "application/json"})
    )
    with JobsClient(API, TOKEN, max_retries=0, _sleep=lambda s: None) as c:
        try:
            outcome: Any = c.wait("j1", timeout=30, strategy="sse")
        except BaseException as exc:
            outcome = exc
    acceptable(outcome)
    if not isinstance(outcome, BaseException):
        assert outcome.status == "completed"
    if isinstance(outcome, ProtocolError):
        assert "j1" in str(outcome)


@pytest.mark.parametrize("name", ["plain", "nested-problem"])
def test_hostile_error_bodies(mock: respx.MockRouter, name: str) -> None:
    content = (
        b'{"status": 400, "detail": "bad"}' if name == "plain" else b"[" * 60_000
    )  # under the 64 KiB error-body cap
    mock.get(f"{API}/api/jobs/j1").mock(
        return_value=httpx.Response(
            400, content=content, headers={"Content-Type": "application/problem+json"}
        )
    )
    outcome = _sync("get")
    assert isinstance(outcome, JobctlError), repr(outcome)
    acceptable(outcome)
