"""The wire models: camelCase in, snake_case out, unknown fields and statuses tolerated."""

from __future__ import annotations

import logging

import pytest

from jobctl.models import (
    Job,
    JobCancelledError,
    JobEvent,
    JobFailedError,
    JobPage,
    JobStatus,
    Progress,
)


def test_job_parses_the_wire_format_and_ignores_unknown_fields() -> None:
    job = Job.model_validate(
        {
            "jobId": "j1",
            "type": "report",
            "status": "processing",
            "createdAt": "2026-11-27T17:40:00.123Z",
            "updatedAt": "2026-11-27T17:40:01Z",
            "progress": {"current": 3, "total": 40, "message": "page 3"},
            "retryAfter": 2,
            "somethingNew": {"nested": True},
        }
    )
    assert job.id == "j1"
    assert job.status is JobStatus.PROCESSING
    assert not job.is_terminal
    assert job.progress is not None and job.progress.fraction == pytest.approx(3 / 40)
    assert job.created_at is not None and job.created_at.tzinfo is not None
    assert job.raise_for_status() is job


def test_unknown_status_is_kept_non_terminal_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="jobctl"):
        first = Job.model_validate({"jobId": "a", "status": "paused-by-operator"})
        second = Job.model_validate({"jobId": "b", "status": "paused-by-operator"})
    assert first.status == "paused-by-operator"
    assert not first.is_terminal and not second.is_terminal
    assert sum("paused-by-operator" in r.getMessage() for r in caplog.records) == 1


def test_raise_for_status() -> None:
    failed = Job.model_validate(
        {
            "jobId": "f",
            "status": "failed",
            "error": {"code": "E42", "message": "boom", "retryable": True},
        }
    )
    with pytest.raises(JobFailedError, match="E42: boom") as info:
        failed.raise_for_status()
    assert info.value.job is failed
    with pytest.raises(JobCancelledError):
        Job(job_id="c", status=JobStatus.CANCELLED).raise_for_status()


def test_progress_fraction_is_clamped_and_none_without_total() -> None:
    assert Progress(current=5, total=0).fraction is None
    assert Progress(current=50, total=10).fraction == 1.0
    assert Progress(current=-1, total=10).fraction == 0.0


def test_page_and_event() -> None:
    page = JobPage.model_validate(
        {"jobs": [{"jobId": "x", "status": "completed"}], "total": 7, "nextOffset": 1}
    )
    assert page.jobs[0].is_terminal and page.next_offset == 1
    event = JobEvent(event="complete", data={"status": "completed"}, status="completed")
    assert event.is_terminal
    assert not JobEvent(event="progress", progress=Progress(current=1, total=2)).is_terminal


def test_client_side_fields_stay_off_the_wire() -> None:
    job = Job(job_id="k", replayed=True, idempotency_key="key-1")
    dumped = job.model_dump(by_alias=True)
    assert "replayed" not in dumped and "idempotencyKey" not in dumped
    assert dumped["jobId"] == "k"
