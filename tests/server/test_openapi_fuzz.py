"""schemathesis's command line against the server's own ``/openapi.json``: no failure.

The document must describe every answer the server gives (docs/server.md, "The
OpenAPI document"), so an off-the-shelf fuzzer run from its CLI, as a user would
run it, finds nothing: every check (``--checks all``) but one, explained at
``_EXCLUDED``, over every operation, in every phase (coverage, fuzzing, stateful),
with positive and negative data, a fixed seed and a bounded number of examples.
``schemathesis.toml`` beside this file holds the per-operation settings, each
with its reason. A CI variant takes 10 to 20 s; the big one is ``slow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobctl.testing import ReferenceServer

from .conftest import free_port

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")

_EXCLUDED = ("use_after_free",)
"""``DELETE /api/jobs/{id}`` cancels a job (PROTOCOL.md): the job stays readable with
status ``cancelled``, which ``use_after_free`` reports as "deleted resource still
available" on the reads that follow; so does ``DELETE /location/jobs/{id}/status``
(the plain ``202 + Location`` dialect's cancel: the monitor then answers ``410``).
schemathesis 4.32 applies per-operation check settings to the check's context but not
to the choice of checks (a stateful check runs on every read), so the exclusion is for
the whole run."""

EXAMPLES = 8
"""Examples per operation in CI (the coverage phase adds its own boundary cases on top;
``-m slow`` runs 100): 41 operations at 20 took ~140 s per mode on a quiet 2-core box."""

_SERVER = ("--quiet", "--workers", "2", "--max-wait", "0.5")
"""``--max-wait 0.5``: the fuzzer asks for long polls of up to an hour (``?wait=3600``);
the server caps every hold, so one costs half a second instead of a minute."""


def fuzz(server: ReferenceServer, examples: int, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the schemathesis CLI against ``server`` as alice (admin routes as an admin)."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{server.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {server.tokens['alice']}",
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(_EXCLUDED),
        "--seed",
        "1",
        "--max-examples",
        str(examples),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
    ]
    env = dict(os.environ, JOBCTL_FUZZ_ADMIN_TOKEN=server.admin_token)
    return subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=workdir, timeout=600, check=False
    )


def assert_clean(run: subprocess.CompletedProcess[str]) -> None:
    """Exit 0, every operation tested, every phase passed."""
    tail = run.stdout[-8000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    assert "41 selected / 41 total" in run.stdout, tail
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout, tail


# "modes": 303 for completed jobs, result URLs signed for a second origin (no token needed)
@pytest.mark.timeout(400)
# Both modes run with -m slow: ~110 s each on a quiet box, most of it the fuzzer's own
# blob jobs of up to 8 GiB that keep the server's workers generating bytes (CI keeps under
# 15 minutes; tests/server/test_openapi_contract.py checks the document in CI).
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["default", "modes"])
def test_schemathesis_finds_nothing(mode: str, tmp_path: Path) -> None:
    args = _SERVER
    if mode == "modes":  # the second origin of the signed URLs is this server by another name
        port = free_port()
        args += ("--port", str(port), "--redirect-completed")
        args += ("--result-base-url", f"http://localhost:{port}")
    with ReferenceServer(args=args) as server:
        assert_clean(fuzz(server, EXAMPLES, tmp_path))


@pytest.mark.slow
def test_schemathesis_finds_nothing_with_many_examples_and_a_rate_limit(tmp_path: Path) -> None:
    """100 examples per operation, and a rate limit, so 429s (with Retry-After) show up."""
    with ReferenceServer(args=(*_SERVER, "--rate-limit", "300/s")) as server:
        assert_clean(fuzz(server, 100, tmp_path))
