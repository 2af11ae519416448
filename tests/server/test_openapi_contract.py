"""Each class of mismatch the fuzzer found between ``/openapi.json`` and the server, as tests.

docs/reliability.md (class 10) lists the findings. Here every answer of a kind is
checked against the published document (validated with ``jsonschema_rs``), not
only the examples the fuzzer happens to draw: events of every ending, results of
every job type and format, 405s of every path, 401s of every route.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest

from jobctl.testing import ReferenceServer

from .conftest import assert_problem, client, parse_sse

pytestmark = pytest.mark.integration

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@pytest.fixture(scope="module")
def doc(server: ReferenceServer) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{server.url}/openapi.json").json()
    return document


@pytest.fixture
def c(server: ReferenceServer) -> Iterator[httpx.Client]:
    with client(server) as cl:
        yield cl


def validate(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    """Validate ``value`` against ``schema`` (its ``#/components`` refs resolved in ``doc``)."""
    jsonschema_rs.validator_for({**schema, "components": doc["components"]}).validate(value)


def validate_event(doc: dict[str, Any], event: dict[str, Any]) -> None:
    """One parsed event against the stream's schema, and its ``data`` against its contentSchema."""
    media = doc["paths"]["/api/jobs/{job_id}/events"]["get"]["responses"]["200"]["content"]
    schema = media["text/event-stream"]["schema"]
    validate(doc, schema, event)
    (kind,) = [k for k in schema["oneOf"] if k["properties"]["event"]["const"] == event["event"]]
    validate(doc, kind["properties"]["data"]["contentSchema"], json.loads(event["data"]))


def stream(c: httpx.Client, job: str, **headers: str) -> list[dict[str, Any]]:
    """The job's events as schemathesis parses them: ``{event, id, data, retry?}``."""
    r = c.get(f"/api/jobs/{job}/events", headers=headers)
    assert r.status_code == 200, r.text
    events, _ = parse_sse(r.content)
    parsed = []
    for e in events:
        if e.event == "retry-only":
            continue
        item: dict[str, Any] = {"event": e.event, "id": e.id, "data": json.dumps(e.data)}
        if e.retry is not None:
            item["retry"] = e.retry
        parsed.append(item)
    return parsed


# -- 5. submit refuses what the schema forbids (and takes what it allows) ----------------------
@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"type": "sleep", "input": {"seconds": 1}, "priority": "5"}, ["body", "priority"]),
        ({"type": "sleep", "input": {"seconds": 1}, "priority": True}, ["body", "priority"]),
        ({"type": "sleep", "input": {"seconds": 1}, "priority": 1.5}, ["body", "priority"]),
        ({"type": "echo", "input": {}, "callbackUrl": None}, ["body", "callbackUrl"]),
        ({"type": "echo", "input": {}, "webhook": None}, ["body", "webhook"]),
        ({"type": "echo", "input": {}, "callbackUrl": 5}, ["body", "callbackUrl"]),
        ({"type": 5, "input": {}}, ["body", "type"]),
        ({"type": "echo", "input": [1]}, ["body", "input"]),
        ({"type": "sleep", "input": {"seconds": "1"}}, ["body", "input", "seconds"]),
        ({"type": "sleep", "input": {"seconds": True}}, ["body", "input", "seconds"]),
        ({"type": "sleep", "input": {"seconds": 1, "steps": 2.5}}, ["body", "input", "steps"]),
        ({"type": "report", "input": {"pages": "3"}}, ["body", "input", "pages"]),
        ({"type": "fail", "input": {"retryable": 1}}, ["body", "input", "retryable"]),
        ({"type": "fail", "input": {"code": 7}}, ["body", "input", "code"]),
    ],
)
def test_submit_refuses_what_the_schema_forbids(
    c: httpx.Client, body: dict[str, Any], loc: list[str]
) -> None:
    problem = assert_problem(c.post("/api/jobs", json=body), 400)
    assert loc in [d["loc"][: len(loc)] for d in problem["details"]], problem


def test_a_webhook_field_sent_as_null_is_refused(c: httpx.Client) -> None:
    body = {"type": "echo", "input": {}, "webhook": {"url": "http://127.0.0.1:9/h", "secret": None}}
    problem = assert_problem(c.post("/api/jobs", json=body), 400)
    assert [d["loc"][-1] for d in problem["details"]] == ["secret"]  # not "should be None" too


@pytest.mark.parametrize(
    "body",
    [
        {"type": "sleep", "input": {"seconds": 0, "steps": 2.0}, "priority": 5.0},  # integers
        {"type": "sleep", "input": {"seconds": 0}, "unknownField": 1},  # forward compatible
        {"type": "echo", "input": {"anything": [None, True, "x"]}},
    ],
)
def test_submit_takes_what_the_schema_allows(
    doc: dict[str, Any], c: httpx.Client, body: dict[str, Any]
) -> None:
    validate(doc, {"$ref": "#/components/schemas/SubmitRequest"}, body)
    assert c.post("/api/jobs", json=body).status_code == 202
