"""Schemathesis over the server's own OpenAPI document: no 500s, responses match the schema.

Driven by hand (one Hypothesis run per operation) instead of through
schemathesis's pytest plugin, so it works with the pinned pytest.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from jobctl.testing import ReferenceServer

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("JOBCTL_FUZZ_EXAMPLES", "6"))


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet", "--workers", "1")) as s:
        yield s


def test_api_has_no_server_errors_and_matches_its_schema(fuzz_server: ReferenceServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    # changing the fault settings would make every later request fail on purpose
    schema = schema.exclude(path="/api/_faults", method="PUT")
    headers = {"Authorization": f"Bearer {fuzz_server.admin_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            key = (case.headers or {}).get("Idempotency-Key")
            if isinstance(key, str):  # a reused key with another body is a correct 422
                case.headers["Idempotency-Key"] = key[:200] + uuid.uuid4().hex
            case.call_and_validate(headers=headers, timeout=30)

        try:
            run()
        except BaseException as exc:  # collect every failure (FailureGroup), report all
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
