"""Bad arguments that only the SDK can judge still end as a usage error (exit 2), on one line."""

from __future__ import annotations

from typer.testing import CliRunner

from jobctl.cli.exitcodes import ExitCode, code_for_exception
from jobctl.cli.failure import describe
from jobctl.errors import InvalidArgumentError


def test_invalid_argument_is_a_usage_error_with_a_plain_message() -> None:
    exc = InvalidArgumentError("not a job id: 'a/b'")
    assert isinstance(exc, ValueError)
    assert code_for_exception(exc) == ExitCode.USAGE
    line = describe(exc)
    assert line.startswith("not a job id: 'a/b'")
    assert "unexpected" not in line


def test_malformed_job_reference_and_key_exit_2_on_one_line() -> None:
    from jobctl.cli.root import app

    runner = CliRunner()
    base = ["--url", "http://127.0.0.1:9", "--token", "t"]
    for args in (["status", "a/b"], ["submit", "echo", "--idempotency-key", "a\tb"]):
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert "unexpected" not in lines[0] and "Traceback" not in result.stderr
