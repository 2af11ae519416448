"""Suite-wide plumbing: skip the big (``slow``) variants unless asked, and run every test
as if outside any CI system.

The long variants of the chaos scenarios (``tests/chaos``) and of the server's
fuzz run (``tests/server``) carry ``@pytest.mark.slow``. CI runs the small
ones: unless ``-m`` names ``slow`` (e.g. ``pytest -m slow``) or ``JOBCTL_SLOW=1``
is set, slow items under those folders are skipped here, so ``pyproject.toml``
needs no change. (Elsewhere ``slow`` only labels a variant; it still runs.)

jobctl reads ``GITHUB_ACTIONS`` / ``GITLAB_CI`` (and writes to ``$GITHUB_OUTPUT`` and
``$GITHUB_STEP_SUMMARY``) on its own: without ``_outside_ci``, a test run inside GitHub
Actions would see groups and annotations in every stderr and write to the runner's
files. Tests of the CI conventions set the variables they need.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
_SKIPPED_WHEN_SLOW = (_HERE / "chaos", _HERE / "server")
CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITLAB_CI",
    "JOBCTL_CI",
)


def slow_requested(config: pytest.Config) -> bool:
    """True when the run asked for the slow variants.

    Args:
        config: the pytest config (its ``-m`` expression is read).
    """
    if os.environ.get("JOBCTL_SLOW", "") == "1":
        return True
    expr = str(config.getoption("markexpr", default="") or "")
    return "slow" in expr.replace("not slow", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the slow variants of ``tests/chaos`` and ``tests/server`` unless asked for.

    Args:
        config: the pytest config.
        items: every collected item.
    """
    if slow_requested(config):
        return
    skip = pytest.mark.skip(reason="big variant: run with -m slow or JOBCTL_SLOW=1")
    for item in items:
        parents = Path(str(item.path)).resolve().parents
        if item.get_closest_marker("slow") and any(d in parents for d in _SKIPPED_WHEN_SLOW):
            item.add_marker(skip)


@pytest.fixture
def slow(request: pytest.FixtureRequest) -> bool:
    """Whether this run asked for the slow variants (for tests that shrink themselves).

    Args:
        request: pytest's request.
    """
    return slow_requested(request.config)


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
