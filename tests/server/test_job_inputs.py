"""The job types' inputs in words: the 400 a client gets, ``jobctl submit --help`` and the
README all say which fields a type takes and what each expects, and agree with the server.

The CLI never imports the server, so its help text is written by hand; these tests
make it (and the README's table) from the server's own input schemas and compare.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jobctl.testing import ReferenceServer
from mock_server.engine.inputs import type_inputs
from mock_server.engine.jobtypes import JOB_TYPES

from .conftest import assert_problem, client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def c(server: ReferenceServer) -> Iterator[httpx.Client]:
    with client(server) as cl:
        yield cl


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("job_type", "detail"),
    [
        ("sleep", "sleep needs `seconds` (a number 0..3600)"),
        ("report", "report needs `pages` (an integer 1..10000)"),
        ("blob", "blob needs `sizeBytes` (an integer 0..8589934592)"),
    ],
)
def test_a_missing_required_input_names_the_field_and_what_it_expects(
    c: httpx.Client, job_type: str, detail: str
) -> None:
    problem = assert_problem(c.post("/api/jobs", json={"type": job_type, "input": {}}), 400)
    assert problem["detail"] == detail
    assert problem["details"][0]["loc"][-1] in detail


@pytest.mark.parametrize(
    ("job_input", "detail"),
    [
        ({"seconds": 5, "steps": 0}, "`steps` must be an integer 1..1000, not 0"),
        ({"seconds": "5"}, '`seconds` must be a number 0..3600, not "5"'),
        ({"seconds": 1, "sleep": 2}, "`sleep` is not an input of sleep (its inputs: `seconds`"),
        ({"steps": 3}, "sleep needs `seconds` (a number 0..3600)"),
        ({"steps": "x" * 100}, '`steps` must be an integer 1..1000, not "xxxxxxxx'),
    ],
)
def test_a_wrong_or_unknown_input_says_what_is_expected(
    c: httpx.Client, job_input: dict[str, object], detail: str
) -> None:
    problem = assert_problem(c.post("/api/jobs", json={"type": "sleep", "input": job_input}), 400)
    assert detail in problem["detail"]
    assert len(problem["detail"]) < 300


def test_the_cli_shows_which_input_is_missing(server: ReferenceServer, tmp_path: Path) -> None:
    """`jobctl submit sleep --wait` used to end with a bare "Field required"."""
    env = dict(
        os.environ,
        JOBCTL_URL=server.url,
        JOBCTL_TOKEN=server.token,
        JOBCTL_CONFIG=str(tmp_path / "config.toml"),
        JOBCTL_STATE_DIR=str(tmp_path / "state"),
    )
    jobctl = Path(sys.executable).with_name("jobctl")
    done = subprocess.run(
        [str(jobctl), "submit", "sleep", "--wait"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    assert "sleep needs `seconds` (a number 0..3600)" in done.stderr
    assert done.stdout == ""


def test_submit_help_lists_every_job_type_with_its_inputs() -> None:
    jobctl = Path(sys.executable).with_name("jobctl")
    done = subprocess.run(
        [str(jobctl), "submit", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    text = flat(done.stdout)
    for job_type in JOB_TYPES:
        assert re.search(rf"\b{job_type}\b", text), job_type
        for field in type_inputs(job_type):
            assert field in text, (job_type, field)


def test_the_readme_table_lists_every_job_type_with_its_inputs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): flat(m.group(2))
        for m in re.finditer(r"^\| `(\w+)` \| (.*?) \|", readme, re.M)
        if m.group(1) in JOB_TYPES
    }
    assert set(rows) == set(JOB_TYPES)
    for job_type, inputs in rows.items():
        expected = ", ".join(type_inputs(job_type)) or "any JSON object"
        assert inputs == expected, job_type
