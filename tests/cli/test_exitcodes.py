"""The one exit-code table: exceptions and statuses to CLI.md's codes, worst-of ordering."""

from __future__ import annotations

import pytest

from jobctl.cli.exitcodes import CliError, ExitCode, code_for_exception, code_for_status, worst
from jobctl.config import ConfigError
from jobctl.errors import (
    AuthError,
    ConflictError,
    DownloadError,
    NotFoundError,
    ProtocolError,
    RequestRejectedError,
    ServiceUnavailableError,
)
from jobctl.models import Job, JobCancelledError, JobError, JobFailedError, WaitTimeoutError


def _job(status: str) -> Job:
    return Job(job_id="j1", status=status, error=JobError(code="x", message="y"))


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (CliError("bad"), 2),
        (CliError("stop", ExitCode.INTERRUPTED), 130),
        (ConfigError("unknown profile"), 2),
        (AuthError("401", status_code=401), 4),
        (NotFoundError("404", status_code=404), 6),
        (NotFoundError("410", status_code=410), 6),
        (ConflictError("409", status_code=409), 9),
        (RequestRejectedError("400", status_code=400), 9),
        (ServiceUnavailableError("down"), 8),
        (ProtocolError("html"), 8),
        (DownloadError("short"), 8),
        (JobFailedError(_job("failed")), 3),
        (JobCancelledError(_job("cancelled")), 5),
        (WaitTimeoutError(_job("processing"), 5.0), 7),
        (KeyboardInterrupt(), 130),
        (RuntimeError("bug"), 1),
    ],
)
def test_table(exc: BaseException, code: int) -> None:
    assert code_for_exception(exc) == code


def test_invalid_signature_is_3() -> None:
    from jobctl.webhooks import InvalidSignatureError

    assert code_for_exception(InvalidSignatureError("no", reason="mismatch")) == 3


@pytest.mark.parametrize(
    ("status", "code"),
    [("completed", 0), ("failed", 3), ("cancelled", 5), ("processing", 7), ("pending", 7)],
)
def test_status_codes(status: str, code: int) -> None:
    assert code_for_status(status) == code


def test_worst_follows_cli_md_order() -> None:
    order = [1, 8, 4, 6, 7, 3, 5, 0]
    for i, better in enumerate(order):
        for worse in order[:i]:
            assert worst([better, worse]) == worse
    assert worst([]) == 0
    assert worst([0, 0, 5]) == 5
    assert worst([9, 3]) == 9
    assert worst([130, 1]) == 130
