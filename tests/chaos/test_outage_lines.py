"""An outage never looks like progress (hardening, class 7).

While the server can't be reached the display says so — a line when the
connection is lost (with how long jobctl will keep trying), heartbeats that say
"server unreachable for 30s, retrying" instead of "still processing", and a line
when it is back — once for all jobs, on plain lines and in the live view.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from jobctl import ConnectionEvent, JobsClient
from jobctl.cli.live import LiveProgress
from jobctl.cli.progress import PlainProgress
from jobctl.models import Progress
from jobctl.testing import ReferenceServer

from .support import cli_env, finish, spawn

LOST = ConnectionEvent(False, "could not connect", 0.5, 280.0)
BACK = ConnectionEvent(True)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain(jobs: int) -> tuple[PlainProgress, io.StringIO, Clock]:
    out, clock = io.StringIO(), Clock()
    display = PlainProgress(out, clock=clock, wall=lambda: datetime(2026, 12, 2, tzinfo=UTC))
    for i in range(jobs):
        display.add(f"job{i}")
        display.update(f"job{i}", "processing", Progress(current=1, total=10))
    out.seek(0)
    out.truncate()
    return display, out, clock


@pytest.mark.parametrize("jobs", [1, 3, 50])
def test_plain_lines_say_lost_unreachable_and_back_once_for_all_jobs(jobs: int) -> None:
    display, out, clock = plain(jobs)
    for i in range(jobs):  # every follower hears the loss
        display.connection(f"job{i}", LOST)
    for _ in range(130):  # 65 s of ticks, with more losses heard meanwhile
        clock.now += 0.5
        display.connection("job0", ConnectionEvent(False, "could not connect", 2.0, 200.0))
        display.tick()
    for i in range(jobs):
        display.connection(f"job{i}", BACK)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(
        "connection lost: could not connect; retrying for up to 4m40s (the --timeout)"
    )
    beats = [line for line in lines if "server unreachable for" in line]
    assert len(beats) == 2 and "server unreachable for 25s" in beats[0]
    assert not any("still processing" in line for line in lines)  # no false progress
    assert lines[-1].endswith("connection restored after 1m05s")
    assert len(lines) == 4  # once for all jobs, not once per job


def test_plain_heartbeats_resume_after_the_outage() -> None:
    display, out, clock = plain(2)
    display.connection("job0", LOST)
    clock.now += 10
    display.connection("job0", BACK)
    for _ in range(60):
        clock.now += 0.5
        display.tick()
    text = out.getvalue()
    assert "connection restored after 10s" in text and "still processing" in text


def test_a_return_before_any_loss_says_nothing() -> None:
    display, out, _ = plain(1)
    display.connection("job0", BACK)
    assert out.getvalue() == ""


def test_the_live_view_shows_the_outage_atop_the_rows() -> None:
    out, clock = io.StringIO(), Clock()
    console = Console(file=out, force_terminal=True, width=100, height=20, color_system=None)
    display = LiveProgress(console, clock=clock)
    display.add("job0", "sleep")
    display.update("job0", "processing", Progress(current=3, total=10))
    display.connection("job0", LOST)
    clock.now += 12
    display.tick()
    assert re.search(r"server unreachable for 1\d?s \(could not connect\)", out.getvalue())
    display.connection("job0", BACK)
    clock.now += 1
    display.tick()
    display.close()
    tail = out.getvalue().rsplit("connection restored", 1)
    assert len(tail) == 2 and "after 12s" in tail[1]
    assert "unreachable" not in tail[1].split("\n", 1)[1]  # the line is gone from the frame


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ReferenceServer]:
    with ReferenceServer(db=tmp_path / "jobs.db", args=("--quiet",)) as s:
        yield s


def test_a_killed_server_is_reported_lost_and_back(server: ReferenceServer, tmp_path: Path) -> None:
    with JobsClient(server.url, server.token) as client:
        job = client.submit("sleep", {"seconds": 6, "steps": 6})
    env = cli_env(server.url, server.token, tmp_path)
    proc = spawn(["wait", job.job_id, "--timeout", "120", "--strategy", "poll"], env, tmp_path)
    time.sleep(1.5)
    server.kill()
    time.sleep(4)  # a few failed polls
    server.start()
    result = finish(proc, timeout=120)
    assert result.code == 0, result.err
    lost = [line for line in result.err.splitlines() if "connection lost:" in line]
    back = [line for line in result.err.splitlines() if "connection restored after" in line]
    assert len(lost) == 1 and "retrying for up to" in lost[0]
    assert len(back) == 1
    assert result.err.index("connection lost:") < result.err.index("connection restored")
