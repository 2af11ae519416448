"""The live display's cost and content: bounded frames, throttled redraws, and rows that say
what a person needs (type, why it failed, sizes in MiB); plain lines with human sizes.

Nothing here is timed: the clock is a fake one, and the cost is counted as table rows
rendered, which is what grew with the number of jobs before (every change redrew all).
"""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from jobctl import Deadline
from jobctl.cli.download import _Bar
from jobctl.cli.io import IOStreams
from jobctl.cli.live import ROWS_PER_SECOND, LiveProgress
from jobctl.cli.progress import NullProgress, PlainProgress
from jobctl.cli.render import counts_text, format_size, is_byte_progress, progress_text
from jobctl.cli.state import AppState, GlobalOptions
from jobctl.cli.waiting import follow_jobs
from jobctl.models import Job, JobError, JobEvent, Progress

MiB200 = 200_000_000  # 190.7 MiB
BLOB = f"{MiB200} of {MiB200} bytes"  # what the reference server's blob job says
SGR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def console(height: int = 40, *, tty: bool = True) -> Console:
    return Console(
        file=io.StringIO(), force_terminal=tty, width=200, height=height, color_system=None
    )


def text_of(c: Console) -> str:
    file = c.file
    assert isinstance(file, io.StringIO)
    return SGR.sub("", file.getvalue())


@pytest.fixture
def rows_rendered(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every row the live view lays out (its cost: what grew with the jobs before)."""
    from jobctl.cli import live

    count = [0]
    original = live._cells

    def counting(row: Any, now: float) -> Any:
        count[0] += 1
        return original(row, now)

    monkeypatch.setattr(live, "_cells", counting)
    return count


# --- what a row says -----------------------------------------------------------------------


def test_rows_show_the_type_the_reason_and_byte_sizes() -> None:
    clock = Clock()
    c = console(tty=False)  # off a terminal rich prints the last frame only: easy to read
    live = LiveProgress(c, clock=clock)
    live.add("blob00001111", "blob")
    live.add("fail00001111", "fail")
    live.add("canc00001111")
    live.add("canc00001111", "sleep")  # the type, learnt later, fills the label in
    live.add("canc00001111", "other")  # ... once
    bytes_half = Progress(
        current=MiB200 // 2, total=MiB200, message=f"{MiB200 // 2} of {MiB200} bytes"
    )
    live.update("blob00001111", "processing", bytes_half)
    clock.now += 2
    live.update(
        "blob00001111",
        "processing",
        Progress(current=MiB200, total=MiB200, message=f"{MiB200} of {MiB200} bytes"),
    )
    live.done("blob00001111", "completed")
    live.done("fail00001111", "failed", "quota_exceeded: the account is over its quota\x1b[2J")
    live.done("canc00001111", "cancelled", "cancelled_by_user: stopped by alice")
    live.close()
    text = text_of(c)
    lines = {line.split()[1]: line for line in text.splitlines() if line.strip()}
    assert lines["blob0000"].startswith("blob blob0000")
    assert "190.7/190.7 MiB" in lines["blob0000"] and "completed" in lines["blob0000"]
    assert "bytes" not in lines["blob0000"]  # the message only restated the counts
    assert "quota_exceeded: the account is over its quota\\x1b[2J" in lines["fail0000"]
    assert lines["canc0000"].startswith("sleep canc0000")
    assert "cancelled_by_user: stopped by alice" in lines["canc0000"]


def test_a_running_byte_row_shows_speed_and_eta() -> None:
    clock = Clock()
    c = console(tty=False)
    live = LiveProgress(c, clock=clock, as_bytes=True)
    live.add("j1", "download")
    live.update("j1", "downloading", Progress(current=0, total=100 * 2**20))
    clock.now += 10
    live.update("j1", "downloading", Progress(current=50 * 2**20, total=100 * 2**20))
    live.close()
    text = text_of(c)
    assert "50.0/100.0 MiB" in text and "eta 0:00:10 5.0 MiB/s" in text


def test_long_and_hostile_server_text_is_shortened_and_escaped_in_rows() -> None:
    c = console(tty=False)
    live = LiveProgress(c)
    live.add("j1" + "\x1b]0;t\x07", "[red]t[/red]" * 10)
    live.update(
        "j1\x1b]0;t\x07", "st\u202eatus" * 10, Progress(current=1, total=2, message="m" * 500)
    )
    live.close()
    text = text_of(c)
    assert "[red]t[/red]" in text and "\x1b" not in c.file.getvalue()  # type: ignore[attr-defined]
    assert "m" * 59 + "…" in text and "m" * 61 not in text
    assert "st\\u202eatus" in text


@pytest.mark.parametrize(
    ("progress", "expect"),
    [
        (Progress(current=MiB200, total=MiB200, message=BLOB), "190.7/190.7 MiB (100%)"),
        (Progress(current=512, total=1024, message="512 of 1024 bytes"), "0.5/1.0 KiB (50%)"),
        (Progress(current=3, total=10, message="page 3 of 10"), "3/10 (30%) page 3 of 10"),
        (Progress(current=3, total=10, message="3 of 99 bytes"), "3/10 (30%) 3 of 99 bytes"),
        (Progress(current=0, total=0, message="warming up"), "warming up"),
    ],
)  # fmt: skip
def test_plain_progress_text_uses_human_sizes_for_bytes(progress: Progress, expect: str) -> None:
    assert progress_text(progress) == expect


def test_size_helpers() -> None:
    assert format_size(0) == "0 bytes"
    assert format_size(1023) == "1,023 bytes"
    assert format_size(MiB200) == "190.7 MiB"
    assert format_size(8 * 2**30) == "8.0 GiB"
    assert counts_text(5, 10) == "5/10" and counts_text(5, None) == "5"
    assert counts_text(2**20, None, as_bytes=True) == "1.0 MiB"
    assert counts_text(100, 200, as_bytes=True) == "100/200 bytes"
    assert is_byte_progress(Progress(current=1, total=2, message=" 1 / 2 Bytes "))
    assert not is_byte_progress(Progress(current=1, total=2, message="1 of 3 bytes"))
    assert not is_byte_progress(Progress(current=1, total=2))


def test_download_plain_lines_use_human_sizes() -> None:
    state = AppState(GlobalOptions(progress="plain"), IOStreams.test())
    bar = _Bar(state, "job1")
    bar(MiB200 // 2, MiB200)
    bar(MiB200, MiB200)  # under a second later: held back
    bar.close()
    assert state.io.err_text().splitlines() == [
        "downloading job1: 95.4 MiB of 190.7 MiB",
        "downloaded job1: 190.7 MiB",
    ]


def test_download_bar_is_the_live_display_in_mib() -> None:
    state = AppState(GlobalOptions(progress="bar"), IOStreams.test(tty=True))
    bar = _Bar(state, "job1")
    bar(MiB200, MiB200)
    bar.close()
    text = SGR.sub("", state.io.err_text())
    assert "download job1" in text and "190.7/190.7 MiB" in text and "completed" in text


# --- what follow_jobs hands the display ----------------------------------------------------


class Recording(NullProgress):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def add(self, job_id: str, label: str | None = None) -> None:
        self.calls.append(("add", job_id, label))

    def done(self, job_id: str, status: object, reason: str | None = None) -> None:
        self.calls.append(("done", job_id, str(getattr(status, "value", status)), reason))


class Client:
    """Each job reports one snapshot (with its type), then ends as scripted."""

    async def wait(
        self, ref: str, *, timeout: Deadline, on_progress: Any, strategy: str, **kw: Any
    ) -> Job:
        if ref == "ended":  # already over when asked: no progress callback at all
            return Job(job_id=ref, type="echo", status="completed")
        on_progress(Job(job_id=ref, type="report", status="processing"))
        await asyncio.sleep(0)
        if ref == "bad":
            error = JobError(code="render_error", message="page 7 is broken")
            return Job(job_id=ref, type="report", status="failed", error=error)
        return Job(job_id=ref, type="report", status="completed")

    async def wait_many(
        self, refs: list[str], *, timeout: Deadline, on_event: Any, strategy: str, **kw: Any
    ) -> list[Job]:
        """Several jobs on one stream: the same snapshots, as events naming their job."""
        ended: list[Job] = []
        for ref in refs:
            if ref != "ended":
                snapshot = Job(job_id=ref, type="report", status="processing")
                on_event(JobEvent(event="status", job_id=ref, job=snapshot))
        await asyncio.sleep(0)
        for ref in refs:
            ended.append(
                await self.wait(ref, timeout=timeout, on_progress=lambda _: None, strategy=strategy)
            )
        return ended


def test_follow_jobs_labels_rows_with_the_snapshot_type_and_says_why_a_job_failed() -> None:
    display = Recording()
    state = AppState(GlobalOptions(progress="plain"), IOStreams.test())
    asyncio.run(
        follow_jobs(state, Client(), ["ok", "bad", "ended"], deadline=Deadline(), display=display)  # type: ignore[arg-type]
    )
    assert ("add", "ok", "report") in display.calls and ("add", "bad", "report") in display.calls
    assert ("add", "ended", "echo") in display.calls
    assert ("done", "ok", "completed", None) in display.calls
    assert ("done", "bad", "failed", "render_error: page 7 is broken") in display.calls


# --- what it costs -------------------------------------------------------------------------


def feed(display: NullProgress, clock: Clock, n: int, *, step: float = 0.001) -> None:
    """n jobs: add each, three progress steps each, then each ends (a few fail)."""
    ids = [f"job{i:05d}-0000" for i in range(n)]
    for job_id in ids:
        display.add(job_id, "sleep")
        clock.now += step
    for k in range(1, 4):
        for job_id in ids:
            display.update(job_id, "processing", Progress(current=k, total=3, message=f"step {k}"))
            clock.now += step
    for i, job_id in enumerate(ids):
        display.done(job_id, "failed" if i % 50 == 0 else "completed", "boom: broke")
        clock.now += step
        display.tick()


@pytest.mark.parametrize("n", [10, 150, 1000])
def test_rows_laid_out_grow_with_time_not_with_jobs_times_frames(
    rows_rendered: list[int], n: int
) -> None:
    clock = Clock()
    height = 20
    live = LiveProgress(console(height), clock=clock)
    started = clock.now
    feed(live, clock, n)
    live.close()
    seconds = clock.now - started
    # At most ROWS_PER_SECOND rows a second (a frame may overrun it by one frame), plus the
    # last frame: whatever n is. The old display laid out all n rows 8 times a second.
    assert rows_rendered[0] <= seconds * ROWS_PER_SECOND + 2 * (height - 2)


def test_updates_between_frames_render_nothing(rows_rendered: list[int]) -> None:
    clock = Clock()
    live = LiveProgress(console(), clock=clock)
    for i in range(2000):
        live.add(f"j{i}")
        live.update(f"j{i}", "processing", Progress(current=1, total=2))
    assert rows_rendered[0] == 1  # the first add drew one frame of one row; the clock stood
    clock.now += 0.2
    live.tick()
    assert rows_rendered[0] == 1 + 37  # one frame: a summary line and 37 rows (40 lines)
    live.close()


def test_more_jobs_than_lines_show_a_summary_and_the_latest_rows_active_first() -> None:
    clock = Clock()
    c = console(height=12, tty=False)
    live = LiveProgress(c, clock=clock)
    feed(live, clock, 300)
    live.add("late-active", "report")
    live.update("late-active", "processing", Progress(current=1, total=9))
    live.close()
    lines = text_of(c).splitlines()
    assert len(lines) <= 12 - 2
    assert lines[0] == "301 jobs: 294 completed, 6 failed, 1 processing (the 9 latest shown)"
    assert any("late-act" in line and "processing" in line for line in lines[1:])
    assert "job00299" in lines[-2] and "late-act" in lines[-1]  # the latest, in job order


def test_few_jobs_show_every_row_without_a_summary() -> None:
    clock = Clock()
    c = console(height=40, tty=False)
    live = LiveProgress(c, clock=clock)
    feed(live, clock, 5)
    live.close()
    lines = text_of(c).splitlines()
    assert len(lines) == 5 and all(line.startswith("sleep job0000") for line in lines)


def test_plain_lines_with_many_jobs_heartbeat_only_the_silent_unfinished_ones() -> None:
    clock = Clock()
    out = io.StringIO()
    wall = lambda: datetime(2026, 11, 27, 18, 30, 0, tzinfo=UTC)  # noqa: E731
    plain = PlainProgress(out, clock=clock, wall=wall)
    for i in range(1000):
        plain.add(f"j{i}")
        plain.update(f"j{i}", "processing", Progress(current=1, total=2))
    for i in range(990):
        plain.done(f"j{i}", "completed")
    clock.now += 10
    plain.update("j995", "processing", Progress(current=2, total=2))  # j995 spoke at +10 s
    before = out.getvalue().count("\n")
    clock.now += 15
    plain.tick()
    beats = out.getvalue().splitlines()[before:]
    assert len(beats) == 9 and all("still processing" in line for line in beats)
    assert not any(" j995 " in line for line in beats)
    clock.now += 10
    plain.tick()
    assert out.getvalue().splitlines()[-1].startswith("2026-11-27T18:30:00Z j995 still")
