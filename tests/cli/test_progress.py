"""Progress displays: plain lines (rate limit, heartbeat, no ANSI/CR) on a fake clock; live bars."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest

from jobctl.cli.io import IOStreams, resolve_progress_mode
from jobctl.cli.live import LiveProgress
from jobctl.cli.progress import PlainProgress
from jobctl.cli.render import format_duration, plain_line, progress_text
from jobctl.models import Progress

ANSI = re.compile(r"\x1b\[")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[PlainProgress, io.StringIO, Clock]:
    out = io.StringIO()
    clock = Clock()
    wall = lambda: datetime(2026, 11, 27, 18, 30, 0, tzinfo=UTC)  # noqa: E731
    return PlainProgress(out, clock=clock, wall=wall), out, clock


def test_at_most_one_line_a_second_and_held_changes_flushed_by_tick() -> None:
    p, out, clock = make()
    p.add("job1")
    p.update("job1", "processing", Progress(current=1, total=10))
    clock.now += 0.3
    p.update("job1", "processing", Progress(current=2, total=10))
    p.update("job1", "processing", Progress(current=3, total=10, message="page 3"))
    assert out.getvalue().count("\n") == 1
    clock.now += 0.8
    p.tick()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1] == "2026-11-27T18:30:00Z job1 processing 3/10 (30%) page 3 [1s]"


def test_unchanged_state_prints_nothing_until_the_heartbeat() -> None:
    p, out, clock = make()
    p.update("job1", "processing", Progress(current=1, total=4))
    for _ in range(24):
        clock.now += 1
        p.update("job1", "processing", Progress(current=1, total=4))
        p.tick()
    assert out.getvalue().count("\n") == 1
    clock.now += 1
    p.tick()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "still processing 1/4" in lines[1] and lines[1].endswith("[25s]")
    clock.now += 25
    p.tick()
    assert out.getvalue().count("still processing") == 2


def test_heartbeat_even_before_any_update_and_final_line_once() -> None:
    p, out, clock = make()
    p.add("job1")
    clock.now += 25
    p.tick()
    assert "job1 still waiting [25s]" in out.getvalue()
    p.update("job1", "completed", Progress(current=4, total=4))
    p.done("job1", "completed")
    p.done("job1", "completed")
    text = out.getvalue()
    assert text.count("completed") == 1
    assert "\r" not in text and not ANSI.search(text)


def test_live_progress_renders_rows_with_current_total_and_message() -> None:
    streams = IOStreams.test(tty=True)
    live = LiveProgress(streams.err)
    live.add("abcdef123456", "report")
    live.update("abcdef123456", "processing", Progress(current=3, total=10, message="page 3"))
    live.done("abcdef123456", "completed")
    live.close()
    text = streams.err_text()
    assert "report abcdef12" in text and "10/10" in text and "completed" in text


def test_progress_mode_resolution() -> None:
    assert resolve_progress_mode("auto", stderr_tty=True, env={}) == "bar"
    assert resolve_progress_mode("auto", stderr_tty=False, env={}) == "plain"
    assert resolve_progress_mode("auto", stderr_tty=True, env={"CI": "true"}) == "plain"
    assert resolve_progress_mode("auto", stderr_tty=True, env={"TERM": "dumb"}) == "plain"
    assert resolve_progress_mode("none", stderr_tty=True, env={}) == "none"
    assert resolve_progress_mode("bar", stderr_tty=False, env={}) == "bar"


def test_render_helpers() -> None:
    assert format_duration(4.9) == "4s"
    assert format_duration(65) == "1m05s"
    assert format_duration(7380) == "2h03m"
    assert progress_text(Progress(current=0, total=0, message="warming up")) == "warming up"
    line = plain_line(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "j", "pending", None, 0)
    assert line == "2026-01-02T03:04:05Z j pending [0s]"


def test_no_color_means_no_colour_codes_even_on_a_terminal() -> None:
    sgr = re.compile(r"\x1b\[[0-9;]*m")
    for color, expect_codes in ((True, True), (False, False)):
        streams = IOStreams.test(tty=True, color=color)
        live = LiveProgress(streams.err)
        live.add("abc", "report")
        live.update("abc", "processing", Progress(current=1, total=2))
        live.done("abc", "completed")
        live.close()
        assert bool(sgr.search(streams.err_text())) is expect_codes


def test_system_streams_honour_no_color_and_dumb_terminals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert IOStreams.system().color is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert IOStreams.system().color is False
    monkeypatch.setenv("TERM", "xterm")
    assert IOStreams.system().color is True


def test_plain_and_none_progress_never_make_the_rich_console() -> None:
    from rich.console import Console

    from jobctl.cli.progress import NullProgress, make_job_progress

    def no_console() -> Console:
        raise AssertionError("the rich console was made for plain output")

    plain = make_job_progress("plain", stderr=io.StringIO(), console=no_console)
    assert isinstance(plain, PlainProgress)
    none = make_job_progress("none", stderr=io.StringIO(), console=no_console)
    assert type(none) is NullProgress
