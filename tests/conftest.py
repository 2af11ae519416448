"""Every test runs as if outside any CI system, also when the suite itself runs in one.

jobctl reads ``GITHUB_ACTIONS`` / ``GITLAB_CI`` (and writes to ``$GITHUB_OUTPUT`` and
``$GITHUB_STEP_SUMMARY``) on its own: without this, a test run inside GitHub Actions
would see groups and annotations in every stderr and write to the runner's files.
Tests of the CI conventions set the variables they need.
"""

from __future__ import annotations

import pytest

CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITLAB_CI",
    "JOBCTL_CI",
)


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
