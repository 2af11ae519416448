"""Any async API, on the wire (respx): every dialect's requests, results and rules.

docs/operations.md is the contract: detection, the final-state rules, hints,
transient retries, 4xx while polling, cookies, headers and credentials kept to
the initial origin, outcomes and resume tokens.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from jobctl import JobsClient, Operation, ProtocolError, follow

from .conftest import API, TOKEN, FakeTime

AZ = f"{API}/azure"
V = "api-version=2024-05-01"


def js(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def auth_of(route: respx.Route, i: int = -1) -> str | None:
    return route.calls[i].request.headers.get("authorization")


def test_azure_data_plane_post_with_operation_location(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    start = mock.post(f"{AZ}/jobs:start", params={"api-version": "2024-05-01"}).mock(
        return_value=js(
            202,
            {"id": "o1", "status": "NotStarted"},
            **{"Operation-Location": "/azure/operations/o1"},
        )
    )
    monitor = mock.get(f"{AZ}/operations/o1").mock(
        side_effect=[
            js(200, {"status": "Running", "percentComplete": 40}, **{"Retry-After": "3"}),
            js(200, {"status": "Succeeded", "resourceLocation": "/azure/jobs/o1/result"}),
        ]
    )
    result = mock.get(f"{AZ}/jobs/o1/result").mock(return_value=js(200, {"pages": 3}))
    seen: list[Any] = []
    op = client.call("POST", f"/azure/jobs:start?{V}", json={"type": "echo"})
    assert op.dialect == "azure" and op.final_via == "azure-async-operation"
    done = client.wait_operation(op, on_progress=lambda o: seen.append((o.status, o.progress)))
    assert done.outcome == "succeeded" and done.result == {"pages": 3}
    assert done.requests == 4 and done.dialect == "azure"
    # the api-version of the initial request travels to every URL it did not name one in
    for route in (monitor, result):
        assert all(c.request.url.params["api-version"] == "2024-05-01" for c in route.calls)
    assert auth_of(start) == auth_of(monitor) == auth_of(result) == f"Bearer {TOKEN}"
    # no hint in the first answer: 1 s of backoff; then the monitor's Retry-After: 3
    assert fake_time.sleeps == [1.0, 3.0]
    assert [s for s, _ in seen] == ["Running", "Succeeded"] and seen[0][1].current == 40


@pytest.mark.parametrize(
    ("method", "expect"),
    [("PUT", "original"), ("PATCH", "original"), ("POST", "location"), ("DELETE", None)],
)
def test_azure_arm_final_state_per_method(
    client: JobsClient, mock: respx.MockRouter, method: str, expect: str | None
) -> None:
    url = f"{AZ}/resources/r1"
    headers = {"Azure-AsyncOperation": f"{AZ}/asyncoperations/a1"}
    if method == "POST":
        headers["Location"] = f"{AZ}/operationresults/a1"
    mock.route(method=method, url__startswith=url).mock(
        return_value=js(
            201 if method == "PUT" else 202,
            {"properties": {"provisioningState": "Creating"}},
            **headers,
        )
    )
    mock.get(f"{AZ}/asyncoperations/a1").mock(return_value=js(200, {"status": "Succeeded"}))
    original = mock.get(url).mock(
        return_value=js(200, {"name": "r1", "properties": {"provisioningState": "Succeeded"}})
    )
    location = mock.get(f"{AZ}/operationresults/a1").mock(return_value=js(200, {"output": 1}))
    done = client.wait_operation(client.call(method, f"{url}?{V}", json={}))
    assert done.outcome == "succeeded"
    if expect == "original":
        assert original.call_count == 1 and done.result["name"] == "r1"
    elif expect == "location":
        assert location.call_count == 1 and done.result == {"output": 1}
    else:
        assert original.call_count == location.call_count == 0 and done.result is None


def test_azure_final_state_via_overrides(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.post(f"{AZ}/resources/r1/run").mock(
        return_value=js(
            202,
            {},
            **{
                "Azure-AsyncOperation": f"{AZ}/asyncoperations/a2",
                "Location": f"{AZ}/operationresults/a2",
            },
        )
    )
    mock.get(f"{AZ}/asyncoperations/a2").mock(
        return_value=js(200, {"status": "succeeded", "result": {"from": "monitor"}})
    )
    located = mock.get(f"{AZ}/operationresults/a2").mock(return_value=js(200, {"from": "location"}))
    op = client.call("POST", f"{AZ}/resources/r1/run?{V}", final_state_via="azure-async-operation")
    done = client.wait_operation(op)
    assert done.result == {"from": "monitor"} and located.call_count == 0


@pytest.mark.parametrize(
    ("monitor", "outcome"),
    [
        ({"status": "Failed", "error": {"code": "Boom", "message": "it broke"}}, "failed"),
        ({"status": "Canceled"}, "cancelled"),
        ({"status": "Cancelled"}, "cancelled"),
        ({"percentComplete": 5}, "error"),  # no status: the monitor broke its dialect
    ],
)
def test_azure_terminal_states_and_a_monitor_without_status(
    client: JobsClient, mock: respx.MockRouter, monitor: dict[str, Any], outcome: str
) -> None:
    mock.post(f"{AZ}/jobs:start").mock(
        return_value=js(202, {}, **{"Operation-Location": f"{AZ}/operations/o2?{V}"})
    )
    mock.get(f"{AZ}/operations/o2").mock(return_value=js(200, monitor))
    done = client.wait_operation(client.call("POST", f"{AZ}/jobs:start?{V}"))
    assert done.outcome == outcome
    if outcome == "failed":
        assert done.error == {"code": "Boom", "message": "it broke"}
    if outcome == "error":
        assert isinstance(done.exception, ProtocolError) and "no status" in str(done.exception)


def test_azure_resource_without_a_header_and_a_200_that_says_failed(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    url = f"{AZ}/resources/r2"
    mock.patch(url).mock(return_value=js(200, {"properties": {"provisioningState": "Updating"}}))
    mock.get(url).mock(
        return_value=js(
            200, {"properties": {"provisioningState": "Failed"}, "error": {"code": "X"}}
        )
    )
    op = client.call("PATCH", f"{url}?{V}", json={})
    assert op.dialect == "azure-resource"
    done = client.wait_operation(op)
    assert done.outcome == "failed" and done.error == {"code": "X"}


def test_google_operation_with_wait_then_a_plain_get_fallback(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    g = f"{API}/google/v1"
    mock.post(f"{g}/jobs:run").mock(
        return_value=js(
            200, {"name": "operations/g1", "done": False, "metadata": {"progressPercent": 10}}
        )
    )
    waits = mock.post(f"{g}/operations/g1:wait").mock(return_value=httpx.Response(404))
    gets = mock.get(f"{g}/operations/g1").mock(
        side_effect=[
            js(200, {"name": "operations/g1", "done": False, "metadata": {"progressPercent": 60}}),
            js(200, {"name": "operations/g1", "done": True, "response": {"ok": True}}),
        ]
    )
    op = client.call("POST", "/google/v1/jobs:run", json={"type": "echo"})
    assert op.dialect == "google" and op.monitor == f"{g}/operations/g1"
    done = client.wait_operation(op, timeout=300)
    assert done.outcome == "succeeded" and done.result == {"ok": True}
    assert waits.call_count == 1 and gets.call_count == 2  # :wait tried once, then GETs
    assert json.loads(waits.calls[0].request.content)["timeout"].endswith("s")


def test_a_held_long_poll_needs_no_pause_one_answered_at_once_is_paced(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    g = f"{API}/google/v1"
    running = {"name": "operations/g3", "done": False}
    mock.post(f"{g}/jobs:run").mock(return_value=js(200, running))

    def held(request: httpx.Request) -> httpx.Response:
        fake_time.now += 20  # the server held it until its timeout
        return js(200, running)

    answers = iter([held, held, lambda r: js(200, running), lambda r: js(200, running)])
    waits = mock.post(f"{g}/operations/g3:wait").mock(
        side_effect=lambda r: next(answers, lambda r: js(200, {**running, "done": True}))(r)
    )
    done = client.wait_operation(client.call("POST", f"{g}/jobs:run"), timeout=600)
    assert done.outcome == "succeeded" and waits.call_count == 5
    # straight into the first :wait and after each held one; backoff after quick answers
    assert len(fake_time.sleeps) == 2 and 0 < fake_time.sleeps[0] < fake_time.sleeps[1]


def test_the_first_hint_counts_from_its_answer(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.post(f"{API}/location/jobs").mock(
        return_value=httpx.Response(202, headers={"Location": "/m/1", "Retry-After": "10"})
    )
    mock.get(f"{API}/m/1").mock(return_value=js(200, {"ok": 1}))
    op = client.call("POST", "/location/jobs")
    fake_time.now += 7  # e.g. the caller cancelled or did other work first
    assert client.wait_operation(op).outcome == "succeeded"
    assert fake_time.sleeps == [3.0]


@pytest.mark.parametrize(("code", "outcome"), [(1, "cancelled"), (13, "failed")])
def test_google_errors(client: JobsClient, mock: respx.MockRouter, code: int, outcome: str) -> None:
    g = f"{API}/google/v1"
    mock.post(f"{g}/jobs:run").mock(
        return_value=js(
            200, {"name": "operations/g2", "done": True, "error": {"code": code, "message": "no"}}
        )
    )
    done = client.wait_operation(client.call("POST", f"{g}/jobs:run"))
    assert done.outcome == outcome and done.error == {"code": code, "message": "no"}
    assert done.requests == 1  # it was done in its first answer


def test_location_moving_then_303_and_x_progress(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.post(f"{API}/location/jobs").mock(
        return_value=httpx.Response(
            202,
            headers={
                "Location": "/location/jobs/l1/status",
                "Retry-After": "Fri, 15 Jan 2027 08:16:52 GMT",
            },
        )
    )
    mock.get(f"{API}/location/jobs/l1/status").mock(
        return_value=httpx.Response(
            202, headers={"X-Progress": "30", "Location": "step2", "Retry-After": "soon"}
        )
    )
    mock.get(f"{API}/location/jobs/l1/step2").mock(
        return_value=httpx.Response(303, headers={"Location": "/location/jobs/l1/result"})
    )
    mock.get(f"{API}/location/jobs/l1/result").mock(
        return_value=httpx.Response(
            200, content=b"%PDF-1.4 x", headers={"Content-Type": "application/pdf"}
        )
    )
    seen: list[Any] = []
    done = client.wait_operation(
        client.call("POST", "/location/jobs", json={}), on_progress=seen.append
    )
    assert done.outcome == "succeeded" and done.result == b"%PDF-1.4 x"
    assert seen[0].progress.current == 30
    # an HTTP-date hint 12 s ahead of the fake wall clock, then a garbage one: ignored, so
    # the backoff of a second paced poll (1 s x 2)
    assert fake_time.sleeps[0] == pytest.approx(12.0) and fake_time.sleeps[1] == 2.0


def test_credentials_headers_and_cookies_stay_on_the_initial_origin(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    other = "http://monitor.elsewhere.test"
    mock.post(f"{API}/location/jobs").mock(
        return_value=httpx.Response(
            202,
            headers={
                "Location": f"{API}/location/jobs/l2/status",
                "Set-Cookie": "poll=abc123; Path=/",
            },
        )
    )
    home = mock.get(f"{API}/location/jobs/l2/status").mock(
        return_value=httpx.Response(
            202, headers={"Location": f"{other}/status/l2", "Set-Cookie": "poll=def456"}
        )
    )
    away = mock.get(f"{other}/status/l2").mock(return_value=httpx.Response(200, json={"done": 1}))
    op = client.call("POST", "/location/jobs", json={}, headers={"X-Api-Key": "k-secret"})
    done = client.wait_operation(op)
    assert done.outcome == "succeeded" and done.result == {"done": 1}
    sent_home = home.calls[0].request.headers
    assert sent_home["cookie"] == "poll=abc123" and sent_home["x-api-key"] == "k-secret"
    assert sent_home["authorization"] == f"Bearer {TOKEN}"
    sent_away = away.calls[0].request.headers
    assert "authorization" not in sent_away and "cookie" not in sent_away
    assert "x-api-key" not in sent_away


def test_cookies_stay_with_their_operation_and_origin(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    # the client keeps no cookie jar of its own: an operation's cookie goes neither to
    # another port of the same host (another origin) nor with another operation
    mock.post(f"{API}/location/jobs").mock(
        return_value=httpx.Response(
            202,
            headers={"Location": "http://api.test:8080/status/c1", "Set-Cookie": "s=one; Path=/"},
        )
    )
    away = mock.get("http://api.test:8080/status/c1").mock(return_value=httpx.Response(204))
    assert client.wait_operation(client.call("POST", "/location/jobs")).outcome == "succeeded"
    assert "cookie" not in away.calls[0].request.headers
    other = mock.put(f"{API}/location/other").mock(return_value=httpx.Response(200, json={}))
    assert client.wait_operation(client.call("PUT", "/location/other")).outcome == "succeeded"
    assert "cookie" not in other.calls[0].request.headers


def test_a_cookie_set_on_an_answer_that_is_retried_goes_with_the_retry(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    # Microsoft's LRO test server (LRORetrys) answers 500 with a cookie that says "the
    # next try succeeds": the retry of the request, and the polls after it, carry it
    put = mock.put(f"{AZ}/resources/r7").mock(
        side_effect=[
            httpx.Response(500, headers={"Set-Cookie": "step=1; Path=/"}),
            js(201, {"properties": {"provisioningState": "Creating"}}),
        ]
    )
    get = mock.get(f"{AZ}/resources/r7").mock(
        side_effect=[
            httpx.Response(500, headers={"Set-Cookie": "step=2; Path=/"}),
            js(200, {"properties": {"provisioningState": "Succeeded"}}),
        ]
    )
    done = client.wait_operation(client.call("PUT", "/azure/resources/r7", json={}))
    assert done.outcome == "succeeded" and done.requests == 4
    cookies = [c.request.headers.get("cookie") for c in [*put.calls, *get.calls]]
    assert cookies == [None, "step=1", "step=1", "step=2"]


def test_transient_failures_are_retried_only_where_safe(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    busy = httpx.Response(503, headers={"Retry-After": "1"})
    post = mock.post(f"{API}/location/unkeyed").mock(side_effect=[busy, busy])
    from jobctl import ServiceUnavailableError

    with pytest.raises(ServiceUnavailableError):
        client.call("POST", "/location/unkeyed")  # no key: sent once, never again
    assert post.call_count == 1
    ok = httpx.Response(202, headers={"Location": "/location/jobs/l3/status"})
    keyed = mock.post(f"{API}/location/jobs").mock(side_effect=[busy, ok])
    op = client.call("POST", "/location/jobs", idempotency_key="k-1")
    assert keyed.call_count == 2 and keyed.calls[1].request.headers["idempotency-key"] == "k-1"
    polls = mock.get(f"{API}/location/jobs/l3/status").mock(
        side_effect=[busy, httpx.ConnectError("reset"), httpx.Response(204)]
    )
    assert client.wait_operation(op).outcome == "succeeded" and polls.call_count == 3


def test_a_keyed_call_is_retried_after_a_500_an_unkeyed_post_is_not(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    # OPERATIONS.md: 5xx on the initial request are transient, and a request with a key is
    # safe to send again (Microsoft's LRO test server, LRORetrys: POST answered 500 first)
    from jobctl import ServiceUnavailableError

    oops = httpx.Response(500)
    started = httpx.Response(202, headers={"Location": "/location/jobs/k5/status"})
    keyed = mock.post(f"{API}/location/keyed").mock(side_effect=[oops, started])
    op = client.call("POST", "/location/keyed", idempotency_key="k-5")
    assert keyed.call_count == 2 and op.monitor == f"{API}/location/jobs/k5/status"
    unkeyed = mock.post(f"{API}/location/unkeyed").mock(side_effect=[oops, started])
    with pytest.raises(ServiceUnavailableError):
        client.call("POST", "/location/unkeyed")
    assert unkeyed.call_count == 1


@pytest.mark.parametrize(
    ("answer", "outcome", "kind"),
    [
        (httpx.Response(404, json={"detail": "gone"}), "error", "NotFoundError"),
        (httpx.Response(403), "error", "AuthError"),
        (
            httpx.Response(
                200, content=b'{"status": "Runn', headers={"Content-Type": "application/json"}
            ),
            "error",
            "ProtocolError",
        ),
    ],
)
def test_a_4xx_or_a_broken_answer_while_polling_ends_in_error(
    client: JobsClient, mock: respx.MockRouter, answer: httpx.Response, outcome: str, kind: str
) -> None:
    mock.put(f"{AZ}/resources/r9").mock(
        return_value=js(201, {}, **{"Azure-AsyncOperation": f"{AZ}/asyncoperations/a9"})
    )
    mock.get(f"{AZ}/asyncoperations/a9").mock(return_value=answer)
    done = client.wait_operation(client.call("PUT", f"{AZ}/resources/r9?{V}", json={}))
    assert done.outcome == outcome and type(done.exception).__name__ == kind


def test_a_202_with_nothing_to_follow_is_an_error_not_a_hang(
    client: JobsClient, mock: respx.MockRouter
) -> None:
    mock.post(f"{API}/x").mock(return_value=httpx.Response(202))
    with pytest.raises(ProtocolError, match="gave no way to follow it"):
        client.call("POST", "/x")


def test_done_with_the_request(client: JobsClient, mock: respx.MockRouter) -> None:
    mock.put(f"{API}/thing").mock(return_value=js(200, {"id": 1}))
    op = client.call("PUT", "/thing", json={})
    assert op.dialect == "done"
    done = client.wait_operation(op)
    assert done.outcome == "succeeded" and done.result == {"id": 1} and done.requests == 1


def test_the_deadline_ends_in_timeout_with_a_token_to_resume(
    client: JobsClient, mock: respx.MockRouter, fake_time: FakeTime
) -> None:
    mock.post(f"{API}/location/jobs").mock(
        return_value=httpx.Response(202, headers={"Location": "/location/jobs/l4/status"})
    )
    mock.get(f"{API}/location/jobs/l4/status").mock(return_value=httpx.Response(202))
    op = client.call("POST", "/location/jobs")
    done = client.wait_operation(op, timeout=5)
    assert done.outcome == "timeout" and done.resume_token == op.resume_token
    assert sum(fake_time.sleeps) <= 5.0 + 1e-9
    again = client.wait_operation(Operation.from_token(done.resume_token), timeout=0)
    assert again.outcome == "timeout"  # looked once (it is still running), then judged


def test_resume_tokens_round_trip_and_refuse_what_they_must() -> None:
    op = Operation(
        "azure",
        "POST",
        f"{AZ}/jobs:start?{V}",
        f"{AZ}/operations/o1?{V}",
        None,
        "location",
        "2024-05-01",
        1.8e9,
        headers=(("X-Api-Key", "k-secret"),),
    )
    token = op.resume_token
    assert token.startswith("jobctl-op1.") and "k-secret" not in token and token.isprintable()
    back = Operation.from_token(token)
    assert back == op and back.headers == ()
    bad = {
        "truncated": token[:-5],
        "tampered": token.replace(token[20], "A" if token[20] != "A" else "B", 1),
        "not ours": "eyJhbGciOi.x.y",
        "empty": "",
    }
    for name, text in bad.items():
        with pytest.raises(ValueError, match="not a jobctl resume token") as info:
            Operation.from_token(text)
        assert "\n" not in str(info.value), name
    newer = "jobctl-op2." + token.split(".", 1)[1]
    with pytest.raises(ValueError, match="version 2"):
        Operation.from_token(newer)


@pytest.mark.parametrize(
    ("method", "url", "why"),
    [
        ("GE T", "/x", "not an HTTP method"),
        ("POST", "example.com/x", "not a URL"),
        ("POST", "ftp://h/x", "only http and https"),
        ("POST", "http://u:p@h/x", "carries credentials"),
    ],
)
def test_bad_calls_are_refused_before_sending(
    client: JobsClient, mock: respx.MockRouter, method: str, url: str, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        client.call(method, url)
    with pytest.raises(ValueError, match="unknown dialect"):
        client.call("GET", "/x", dialect="aws")
    with pytest.raises(ValueError, match="unknown final-state rule"):
        client.call("GET", "/x", final_state_via="somewhere")
    assert mock.calls.call_count == 0


def test_follow_an_httpx_response_the_caller_got() -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.put("https://api.example.test/things/t1").mock(
            return_value=js(201, {}, **{"Operation-Location": "https://api.example.test/ops/t1"})
        )
        mock.get("https://api.example.test/ops/t1").mock(
            return_value=js(200, {"status": "succeeded"})
        )
        final = mock.get("https://api.example.test/things/t1").mock(return_value=js(200, {"t": 1}))
        with httpx.Client(headers={"Authorization": "Bearer mine"}) as own:
            response = own.put("https://api.example.test/things/t1", json={})
            done = follow(response, own, timeout=30)
        assert done.outcome == "succeeded" and done.result == {"t": 1}  # type: ignore[union-attr]
        assert final.calls[0].request.headers["authorization"] == "Bearer mine"


def test_follow_keeps_every_header_of_the_callers_client_off_other_origins() -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        mock.post("https://api.example.test/runs").mock(
            return_value=httpx.Response(202, headers={"Location": "https://cdn.example.test/m/1"})
        )
        elsewhere = mock.get("https://cdn.example.test/m/1").mock(return_value=js(200, {"ok": 1}))
        secrets = {"Authorization": "Bearer mine", "api-key": "k1", "X-Api-Key": "k2"}
        with httpx.Client(headers=secrets, cookies={"sid": "s"}) as own:
            done = follow(own.post("https://api.example.test/runs"), own, timeout=30)
        assert done.outcome == "succeeded"  # type: ignore[union-attr]
        sent = {k.lower() for k in elsewhere.calls[0].request.headers}
        assert not sent & {"authorization", "api-key", "x-api-key", "cookie"}, sent


@pytest.mark.parametrize(("state", "outcome"), [("Failed", "failed"), ("Canceled", "cancelled")])
def test_an_initial_200_that_says_failed_is_that_outcome(
    client: JobsClient, mock: respx.MockRouter, state: str, outcome: str
) -> None:
    mock.put(f"{AZ}/resources/r3").mock(
        return_value=js(200, {"properties": {"provisioningState": state}})
    )
    op = client.call("PUT", f"{AZ}/resources/r3?{V}", json={})
    assert op.dialect == "azure-resource"
    done = client.wait_operation(op)
    assert done.outcome == outcome and done.requests == 1  # nothing more to ask


def test_follow_waits_out_the_first_answers_retry_after_like_call() -> None:
    # The benchmark of the dialects found follow() polling after its own 1 s backoff
    # where the server had asked for 2 s (call() already waited for the hint).
    from jobctl._io.follow import _operation

    request = httpx.Request("PUT", "https://api.example.test/things/t1")
    response = httpx.Response(
        201,
        json={},
        headers={"Operation-Location": "https://api.example.test/ops/t1", "Retry-After": "2"},
        request=request,
    )
    op = _operation(response, "auto", None)
    assert op.hint == 2.0 and op.started is not None
