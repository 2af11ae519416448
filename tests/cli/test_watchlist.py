"""``jobctl list --watch``'s rows: pure logic of the page kept live (JobRows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobctl.cli.watchlist import JobRows
from jobctl.models import Job, JobEvent, Progress

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def job(job_id: str, status: str = "processing", minute: int = 0) -> Job:
    return Job(
        job_id=job_id, status=status, type="sleep", created_at=T0 + timedelta(minutes=minute)
    )


def test_a_row_changes_in_place_and_never_goes_back() -> None:
    rows = JobRows([job("a")], None, 5)
    moved = rows.apply(
        JobEvent(event="progress", job_id="a", progress=Progress(current=1, total=2))
    )
    assert moved is not None and moved.progress is not None and moved.type == "sleep"
    assert rows.apply(JobEvent(event="progress", job_id="zz")) is None  # not on the page
    done = job("a", "completed")
    assert rows.apply(JobEvent(event="complete", job_id="a", job=done)) is not None
    assert rows.apply(JobEvent(event="status", job_id="a", status="processing")) is None
    assert str(rows.rows["a"].status) == "completed"


def test_new_jobs_go_on_top_and_the_page_keeps_its_size() -> None:
    rows = JobRows([job("a", minute=1), job("b", minute=0)], None, 2)
    rows.put(job("c", minute=2))
    assert [j.job_id for j in rows.newest_first()] == ["c", "a"]


def test_a_job_leaving_the_status_filter_leaves_the_table() -> None:
    rows = JobRows([job("a")], ["processing"], 5)
    rows.apply(JobEvent(event="complete", job_id="a", job=job("a", "completed")))
    assert rows.rows == {}
    rows.put(job("b", "pending"))
    assert rows.rows == {}
