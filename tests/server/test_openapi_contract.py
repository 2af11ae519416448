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

from .conftest import assert_problem, client, parse_sse, submit, wait_status, wait_terminal

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


# -- 1. the event stream: every event matches its declared schema; complete carries the job ----
@pytest.mark.parametrize(
    ("job_type", "job_input", "status"),
    [
        ("sleep", {"seconds": 0.05, "steps": 2}, "completed"),
        ("fail", {"code": "boom", "retryable": True}, "failed"),
        ("sleep", {"seconds": 30}, "cancelled"),
        ("report", {"pages": 2, "format": "csv", "secondsPerPage": 0}, "completed"),
    ],
)
def test_every_event_matches_the_schema_and_complete_carries_the_job(
    doc: dict[str, Any], c: httpx.Client, job_type: str, job_input: dict[str, Any], status: str
) -> None:
    job = submit(c, job_type, **job_input)
    if status == "cancelled":
        wait_status(c, job, "processing")
        assert c.delete(f"/api/jobs/{job}").status_code == 200
    body = wait_terminal(c, job)
    assert body["status"] == status
    for events in (stream(c, job), stream(c, job, **{"Last-Event-ID": "1"})):
        assert events[-1]["event"] == "complete"
        for event in events:
            validate_event(doc, event)
        complete = json.loads(events[-1]["data"])
        assert complete["status"] == status
        assert complete["job"] == c.get(f"/api/jobs/{job}").json()  # as GET answers it


# -- 2. results: the declared media type of every job type and format, a valid body ------------
@pytest.mark.parametrize(
    ("job_type", "job_input", "media"),
    [
        ("sleep", {"seconds": 0}, "application/json"),
        ("echo", {"a": [1, 2]}, "application/json"),
        ("flaky", {"failTimes": 0}, "application/json"),
        ("report", {"pages": 1, "format": "json", "secondsPerPage": 0}, "application/json"),
        ("report", {"pages": 1, "format": "csv", "secondsPerPage": 0}, "text/csv"),
        ("report", {"pages": 1, "secondsPerPage": 0}, "application/pdf"),
        ("blob", {"sizeBytes": 100}, "application/octet-stream"),
    ],
)
def test_results_have_a_declared_media_type(
    doc: dict[str, Any], c: httpx.Client, job_type: str, job_input: dict[str, Any], media: str
) -> None:
    job = submit(c, job_type, **job_input)
    assert wait_terminal(c, job)["status"] == "completed"
    declared = doc["paths"]["/api/jobs/{job_id}/result"]["get"]["responses"]
    r = c.get(f"/api/jobs/{job}/result")
    assert r.headers["content-type"].split(";")[0] == media
    assert media in declared["200"]["content"]
    if media == "application/json":
        validate(doc, declared["200"]["content"][media]["schema"], r.json())
    for name, header in declared["200"]["headers"].items():
        assert name in r.headers and header["required"], name
        validate(doc, header["schema"], r.headers[name])
    part = c.get(f"/api/jobs/{job}/result", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and media in declared["206"]["content"]
    validate(
        doc, declared["206"]["headers"]["Content-Range"]["schema"], part.headers["Content-Range"]
    )


# -- 3. 405: Allow lists exactly the documented methods of the path ----------------------------
def test_every_405_allows_exactly_the_documented_methods(
    doc: dict[str, Any], server: ReferenceServer
) -> None:
    samples = {"{job_id}": "no-such-job", "{delivery_id}": "dlv_none", "{name}": "no-such-name"}
    with client(server, "admin") as admin:
        for template, ops in doc["paths"].items():
            path = template
            for name, value in samples.items():
                path = path.replace(name, value)
            documented = {m.upper() for m in ops}
            for method in sorted({m.upper() for m in _METHODS} - documented - {"HEAD"}):
                r = admin.request(method, path)
                assert r.status_code == 405, (method, path, r.status_code)
                assert set(r.headers["Allow"].split(", ")) == documented, (method, path)


# -- 4. without a token: 401 with WWW-Authenticate: Bearer, whatever the path and query --------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/jobs/JOB/result?sig=00"),  # a signature without expires
        ("GET", "/api/jobs/JOB/result?expires=99999999999&sig=00"),  # a wrong signature
        ("HEAD", "/api/jobs/JOB/result?expires=0&sig=00"),  # the fuzzer's finding
        ("GET", "/api/jobs/JOB/result?expires=x&sig="),
        ("POST", "/api/jobs/JOB/result?sig=00"),  # was 405: only GET/HEAD may be signed
        ("GET", "/api/nothing/result?sig=00"),  # was 404: not the result route
        ("DELETE", "/api/jobs/JOB?sig=00"),
        ("GET", "/api/jobs?xsig=00"),
        ("GET", "/api/_stats?sig=00"),
        ("GET", "/location/jobs/JOB/status?expires=99999999999&sig=00"),  # a dialect's monitor
        ("GET", "/azure/operations/JOB?api-version=2024-05-01&expires=99999999999&sig=00"),
        ("DELETE", "/location/jobs/JOB/status?sig=00"),  # only GET/HEAD may be signed
        ("GET", "/v1/operations/JOB?sig=00"),  # Google's monitors are never signed
        ("GET", "/azure/resources/JOB?api-version=2024-05-01"),
        ("GET", "/location/nothing"),
    ],
)
def test_no_token_is_401_with_a_bearer_challenge(
    c: httpx.Client, server: ReferenceServer, method: str, path: str
) -> None:
    job = submit(c, "echo", n=1)
    wait_terminal(c, job)
    r = httpx.request(method, server.url + path.replace("JOB", job))
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    if method != "HEAD":
        assert_problem(r, 401)


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


# -- 6. the document: errors and headers every operation declares ------------------------------
def test_every_api_operation_declares_its_errors_with_their_headers(doc: dict[str, Any]) -> None:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            keyed = bool(headers & {"Idempotency-Key", "Repeatability-Request-ID"})
            assert ("422" in responses) == keyed, (method, path)  # only a reused key is 422
            if path == "/healthz":
                continue
            assert responses["401"]["headers"]["WWW-Authenticate"]["required"], (method, path)
            for status in ("429", "503"):
                if status in responses:
                    assert responses[status]["headers"]["Retry-After"]["required"]
            if not path.startswith(("/api/_stats", "/api/_faults")):
                assert {"429", "503"} <= set(responses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"]
            for param in op.get("parameters", []):
                assert "anyOf" not in param["schema"], (method, path, param["name"])
