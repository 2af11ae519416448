"""Hostile input to the CLI itself: every bad ``-i`` / ``-p`` / flag value is a usage error
(exit 2) with one clear line, or — when only the server can judge it — the server's refusal
(exit 9); never exit 1 ("an unexpected error inside jobctl") and never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl.testing import ReferenceServer

from .support import CliResult, assert_clean, cli_env, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--quiet",)) as s:
        yield s


def one_error(res: CliResult, code: int) -> None:
    assert_clean(res)
    assert res.code == code, res
    lines = [line for line in res.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and len(lines[0]) < 400, res.err


@pytest.mark.parametrize(
    ("args", "code"),
    [
        pytest.param(["-i", "{not json"], 2, id="not-json"),
        pytest.param(["-i", "@missing.json"], 2, id="missing-file"),
        pytest.param(["-i", "@badutf8.json"], 2, id="invalid-utf8-file"),
        pytest.param(["-i", "@nested.json"], 2, id="deeply-nested"),
        pytest.param(["-i", '{"a": NaN}'], 2, id="nan"),
        pytest.param(["-i", '{"a": 1e309}'], 2, id="overflows-to-inf"),
        pytest.param(["-p", "novalue"], 2, id="param-without-equals"),
        pytest.param(["--idempotency-key", "a\tb"], 2, id="key-with-tab"),
        pytest.param(["--idempotency-key", "k" * 256], 2, id="key-too-long"),
        pytest.param(["--timeout", "soon", "--wait"], 2, id="bad-duration"),
        pytest.param(["--priority", "high"], 2, id="bad-priority"),
        pytest.param(["--strategy", "carrier-pigeon"], 2, id="bad-strategy"),
        pytest.param(["-i", "@big.json"], 9, id="over-the-server-limit-413"),
        pytest.param(["-i", '{"pages": -1}', "--type-override"], 2, id="unknown-flag"),
    ],
)
def test_bad_cli_input(server: ReferenceServer, tmp_path: Path, args: list[str], code: int) -> None:
    (tmp_path / "badutf8.json").write_bytes(b'{"a": "\xff\xfe"}')
    (tmp_path / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "big.json").write_text('{"x": "' + "a" * (2 << 20) + '"}')
    res = run_cli(["submit", "echo", *args], cli_env(server.url, server.token, tmp_path), tmp_path)
    one_error(res, code)
    assert not res.out.strip(), res.out  # no job id: nothing was submitted


@pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity", "1e309"])
def test_a_param_that_is_not_strict_json_is_sent_as_a_string(
    server: ReferenceServer, tmp_path: Path, word: str
) -> None:
    """CLI.md: -p values are JSON when they parse, else strings; NaN and friends are not JSON."""
    res = run_cli(
        ["--json", "submit", "echo", "-p", f"a={word}", "--wait"],
        cli_env(server.url, server.token, tmp_path),
        tmp_path,
    )
    assert_clean(res)
    assert res.code == 0, res
    assert json.loads(res.out)["output"] == {"a": word}


@pytest.mark.parametrize(
    ("job_type", "params"),
    [
        ("no-such-type", []),
        ("report", ["-p", "pages=0"]),
        ("report", ["-p", "pages=1", "-p", "format=docx"]),
        ("blob", ["-p", "sizeBytes=-5"]),
    ],
)
def test_input_only_the_server_can_judge_is_refused_with_9(
    server: ReferenceServer, tmp_path: Path, job_type: str, params: list[str]
) -> None:
    res = run_cli(
        ["submit", job_type, *params], cli_env(server.url, server.token, tmp_path), tmp_path
    )
    one_error(res, 9)
