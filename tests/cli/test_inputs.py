"""-i / -p parsing, durations and JOB references: every bad value is one clear usage error."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from jobctl.cli.exitcodes import CliError
from jobctl.cli.inputs import parse_input, parse_param, parse_timeout, resolve_job_refs


def test_inline_file_and_stdin(tmp_path: Path) -> None:
    f = tmp_path / "in.json"
    f.write_text('{"pages": 3}')
    assert parse_input('{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse_input(f"@{f}") == {"pages": 3}
    assert parse_input("-", stdin=io.StringIO('{"s": "x"}')) == {"s": "x"}
    assert parse_input(None) == {}


def test_params_parse_json_values_else_strings() -> None:
    got = parse_input(None, ["pages=5", "format=pdf", "flag=true", 'obj={"a":1}', "s=x=y"])
    assert got == {"pages": 5, "format": "pdf", "flag": True, "obj": {"a": 1}, "s": "x=y"}
    assert parse_input('{"pages": 1, "format": "csv"}', ["pages=9"]) == {
        "pages": 9,
        "format": "csv",
    }
    assert parse_param('quoted="5"') == ("quoted", "5")


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"invalid JSON in -i at line 1, column 9") as info:
        parse_input('{"a": 1,}')
    assert info.value.code == 2
    f = tmp_path / "bad.json"
    f.write_text('{\n  "a": 1\n  "b": 2\n}')
    with pytest.raises(CliError, match=r"bad.json at line 3, column 3"):
        parse_input(f"@{f}")


@pytest.mark.parametrize("raw", ["@/no/such/file.json"])
def test_unreadable_file(raw: str) -> None:
    with pytest.raises(CliError, match="cannot read -i file"):
        parse_input(raw)


def test_bad_params() -> None:
    with pytest.raises(CliError, match="use KEY=VALUE"):
        parse_input(None, ["novalue"])
    with pytest.raises(CliError, match="JSON object"):
        parse_input("[1]", ["a=1"])


def test_timeouts() -> None:
    assert parse_timeout("15m") == 900
    assert parse_timeout(None, 30.0) == 30.0
    assert parse_timeout(None) is None
    with pytest.raises(CliError, match="--timeout"):
        parse_timeout("soon")


def test_job_refs_and_last() -> None:
    assert resolve_job_refs(["a", "b"], last=False, newest=None) == ["a", "b"]
    assert resolve_job_refs([], last=True, newest="http://h/api/jobs/x") == ["http://h/api/jobs/x"]
    with pytest.raises(CliError, match="no jobs in the local ledger"):
        resolve_job_refs([], last=True, newest=None)
    with pytest.raises(CliError, match="missing JOB"):
        resolve_job_refs([], last=False, newest=None)
