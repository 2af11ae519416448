"""The Azure Resource Manager dialect (docs/protocol.md, "Other dialects") on a real server.

Resources are jobs under names (PUT, GET, PATCH, DELETE), the ``Azure-AsyncOperation``
monitor, an action's ``Location`` and the ``sync`` knob (a ``200`` that says Failed).
The module's server has a second origin (``localhost``) for the "another origin" knob;
it runs on each store (names are kept in the store).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from jobctl.testing import ReferenceServer

from .conftest import STORES, assert_problem, cancel_live, client, two_origins, until

pytestmark = pytest.mark.integration

V = {"api-version": "2024-05-01"}
SLEEP = {"type": "sleep", "input": {"seconds": 0.3, "steps": 3}}
LONG = {"type": "sleep", "input": {"seconds": 30, "steps": 30}}
FAIL = {"type": "fail", "input": {"code": "boom", "message": "it broke"}}


@pytest.fixture(scope="module", params=STORES)
def server(request: pytest.FixtureRequest) -> Iterator[ReferenceServer]:
    """The resources' names live in the store: both stores are checked."""
    store = request.getfixturevalue("redis_url") if request.param == "redis" else None
    with two_origins(store=store) as s:
        yield s


@pytest.fixture
def c(server: ReferenceServer) -> Iterator[httpx.Client]:
    """Alice's client (redirects not followed); her jobs still running are cancelled after."""
    with client(server, follow_redirects=False) as alice:
        yield alice
        cancel_live(alice)


# ---- Azure resources (ARM) ----------------------------------------------------------------
def _name() -> str:
    return f"res-{time.monotonic_ns()}"


def test_arm_put_provisions_then_the_resource_has_its_output(c: httpx.Client) -> None:
    name = _name()
    put = c.put(f"/azure/resources/{name}", params=V, json={"properties": SLEEP})
    assert put.status_code == 201 and put.json()["properties"]["provisioningState"] == "Creating"
    monitor = put.headers["Azure-AsyncOperation"]
    assert "api-version=2024-05-01" in monitor and put.headers["Retry-After"].isdigit()
    done = until(lambda: c.get(monitor), lambda a: a.json()["status"] != "InProgress").json()
    assert done["status"] == "Succeeded" and done["endTime"]
    resource = c.get(f"/azure/resources/{name}", params=V).json()
    assert resource["properties"]["provisioningState"] == "Succeeded"
    assert resource["properties"]["output"] == {"sleptSeconds": 0.3}
    again = c.put(f"/azure/resources/{name}", params=V, json={"properties": SLEEP})  # idempotent
    assert again.status_code == 200 and "Azure-AsyncOperation" not in again.headers
    assert again.json()["properties"]["jobId"] == resource["properties"]["jobId"]
    other = c.put(f"/azure/resources/{name}", params=V, json={"properties": LONG})  # replace
    assert (
        other.status_code == 200 and other.json()["properties"]["provisioningState"] == "Updating"
    )
    assert_problem(c.put(f"/azure/resources/{name}", params=V, json={"properties": SLEEP}), 409)
    bad = c.put(
        f"/azure/resources/{name}", params=V, json={"properties": {"type": "sleep", "input": {}}}
    )
    assert ["body", "properties", "input"] in [
        d["loc"][:3] for d in assert_problem(bad, 400)["details"]
    ]


def test_arm_failure_is_a_200_that_says_failed(c: httpx.Client) -> None:
    name = _name()
    put = c.put(f"/azure/resources/{name}", params=V, json={"properties": FAIL})
    failed = until(
        lambda: c.get(put.headers["Azure-AsyncOperation"]),
        lambda a: a.json()["status"] != "InProgress",
    )
    assert failed.status_code == 200 and failed.json()["status"] == "Failed"
    assert failed.json()["error"] == {"code": "boom", "message": "it broke"}
    resource = c.get(f"/azure/resources/{name}", params=V)
    assert (
        resource.status_code == 200
        and resource.json()["properties"]["provisioningState"] == "Failed"
    )
    assert resource.json()["error"]["code"] == "boom"
    synced = c.put(
        f"/azure/resources/{_name()}", params={**V, "sync": "1"}, json={"properties": FAIL}
    )
    assert synced.status_code == 200 and "Azure-AsyncOperation" not in synced.headers
    assert synced.json()["properties"]["provisioningState"] == "Failed"


def test_arm_patch_is_followed_by_polling_the_resource(c: httpx.Client) -> None:
    name = _name()
    assert_problem(c.patch(f"/azure/resources/{name}", params=V, json={"properties": {}}), 404)
    c.put(f"/azure/resources/{name}", params={**V, "sync": "1"}, json={"properties": SLEEP})
    patch = c.patch(
        f"/azure/resources/{name}", params=V, json={"properties": {"input": {"seconds": 0.2}}}
    )
    assert (
        patch.status_code == 200 and patch.json()["properties"]["provisioningState"] == "Updating"
    )
    assert not {"azure-asyncoperation", "operation-location", "location"} & set(patch.headers)
    assert_problem(c.patch(f"/azure/resources/{name}", params=V, json={"properties": {}}), 409)
    done = until(
        lambda: c.get(f"/azure/resources/{name}", params=V),
        lambda a: a.json()["properties"]["provisioningState"] != "Updating",
    ).json()
    assert done["properties"]["output"] == {"sleptSeconds": 0.2}
    assert_problem(
        c.patch(f"/azure/resources/{name}", params=V, json={"properties": {"type": None}}), 400
    )


def test_arm_action_result_via_location_and_delete(c: httpx.Client) -> None:
    name = _name()
    c.put(f"/azure/resources/{name}", params={**V, "sync": "1"}, json={"properties": SLEEP})
    run = c.post(f"/azure/resources/{name}/run", params=V)
    assert run.status_code == 202 and run.content == b""
    location = run.headers["Location"]
    assert "/azure/operationresults/" in location and "api-version=2024-05-01" in location
    early = c.get(location)
    assert early.status_code == 202 and early.headers["Retry-After"].isdigit()
    until(
        lambda: c.get(run.headers["Azure-AsyncOperation"]),
        lambda a: a.json()["status"] == "Succeeded",
    )
    assert c.get(location).json() == {"sleptSeconds": 0.3}
    assert_problem(c.post(f"/azure/resources/{_name()}/run", params=V), 404)
    # DELETE while it provisions: the provisioning is cancelled, the deletion succeeds
    c.put(f"/azure/resources/{name}", params=V, json={"properties": LONG})
    job = c.get(f"/azure/resources/{name}", params=V).json()["properties"]["jobId"]
    gone = c.delete(f"/azure/resources/{name}", params=V)
    assert gone.status_code == 202 and gone.content == b""
    assert c.get(gone.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
    assert c.get(gone.headers["Location"]).status_code == 204
    assert c.get(f"/azure/asyncoperations/{job}", params=V).json()["status"] == "Canceled"
    assert_problem(c.get(f"/azure/operationresults/{job}", params=V), 410)
    assert_problem(c.get(f"/azure/resources/{name}", params=V), 404)
    assert c.delete(f"/azure/resources/{name}", params=V).status_code == 204


def test_arm_monitor_without_status_on_another_origin(
    c: httpx.Client, server: ReferenceServer
) -> None:
    put = c.put(
        f"/azure/resources/{_name()}",
        params={**V, "no-status": "1", "links": "foreign"},
        json={"properties": SLEEP},
    )
    monitor = put.headers["Azure-AsyncOperation"]
    assert monitor.startswith("http://localhost:")
    body = httpx.get(monitor).json()
    assert "status" not in body and body["name"] == put.json()["properties"]["jobId"]
