"""Each followed job's plain lines in one GitHub group or GitLab section, written when it ends
(driven with a fake clock: no sleeping, no server)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from jobctl.cli.ci.groups import GroupedProgress
from jobctl.models import Progress

from . import runner_formats as runner


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 11, 27, 18, 30, tzinfo=UTC) + timedelta(seconds=self.now - 1000)


def display(system: str) -> tuple[GroupedProgress, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    return GroupedProgress(out, system, clock=clock, wall=clock.wall), out, clock


def test_interleaved_jobs_get_one_group_each_in_the_order_they_end() -> None:
    shown, out, clock = display("github")
    shown.add("a", "report")
    shown.add("b", "sleep")
    shown.update("a", "processing", Progress(current=1, total=2))
    shown.update("b", "processing", None)
    clock.now += 2
    shown.update("a", "processing", Progress(current=2, total=2))
    shown.done("b", "failed", "E_BOOM: 50%\nboom")
    clock.now += 63
    shown.done("a", "completed")
    text = out.getvalue()
    groups = [c for c in runner.commands(text) if c.name in ("group", "endgroup")]
    assert [(c.name, c.data) for c in groups] == [
        ("group", "sleep b: failed (E_BOOM: 50%\\nboom) [2s]"),
        ("endgroup", ""),
        ("group", "report a: completed [1m05s]"),
        ("endgroup", ""),
    ]
    blocks = text.split("::endgroup::\n")
    assert all(" b " in line for line in blocks[0].splitlines()[1:])
    assert [line.split(" ", 2)[1:] for line in blocks[1].splitlines()[1:]] == [
        ["a", "processing 1/2 (50%) [0s]"],
        ["a", "processing 2/2 (100%) [2s]"],
        ["a", "completed 2/2 (100%) [1m05s]"],
    ]


def test_gitlab_sections_fold_only_the_jobs_that_completed() -> None:
    shown, out, clock = display("gitlab")
    for job_id in ("ok", "bad", "gone\x1b[2J:x"):
        shown.add(job_id, "report")
    clock.now += 5
    shown.done("ok", "completed")
    shown.done("bad", "cancelled", "cancelled by alice")
    shown.done("gone\x1b[2J:x", "error", "not found (404)")
    found = runner.sections(out.getvalue())
    assert [(s.header, s.collapsed) for s in found] == [
        ("report ok: completed [5s]", True),
        ("report bad: cancelled (cancelled by alice) [5s]", False),
        ("report gone\\x1b[2J:x: error (not found (404)) [5s]", False),
    ]
    assert [s.name for s in found] == ["jobctl_1_ok", "jobctl_2_bad", "jobctl_3_gone__2J_x"]
    assert all(s.end - s.start == 5 for s in found)
    assert all(s.lines for s in found)


def test_a_line_about_the_running_jobs_keeps_the_log_alive() -> None:
    shown, out, clock = display("github")
    shown.add("a")
    shown.add("b")
    shown.update("a", "processing", None)
    shown.update("b", "pending", None)
    for _ in range(60):  # 30 s of ticks twice a second, the job's lines all held back
        clock.now += 0.5
        shown.update("a", "processing", Progress(current=int(clock.now), total=2000))
        shown.tick()
    visible = out.getvalue().splitlines()
    assert visible == ["2026-11-27T18:30:25Z waiting for 2 of 2 jobs: 1 pending, 1 processing"]


def test_one_job_keeps_its_own_heartbeat_line() -> None:
    shown, out, clock = display("gitlab")
    shown.add("a")
    shown.update("a", "processing", Progress(current=3, total=10))
    clock.now += 26
    shown.tick()
    assert out.getvalue() == "2026-11-27T18:30:26Z a still processing 3/10 (30%) [26s]\n"


def test_closing_early_writes_the_jobs_still_running_as_stopped() -> None:
    shown, out, clock = display("github")
    shown.add("a", "sleep")
    shown.update("a", "processing", None)
    clock.now += 3
    shown.close()
    groups = runner.commands(out.getvalue(), "group")
    assert [c.data for c in groups] == ["sleep a: processing (stopped waiting) [3s]"]
    assert out.getvalue().endswith("::endgroup::\n")
