"""The waiter and submit with a scripted SDK client: outcomes, one deadline, signals, cancels."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from typer.testing import CliRunner

from jobctl import Deadline
from jobctl._core.context import Runtime
from jobctl.cli.exitcodes import CliError
from jobctl.cli.io import IOStreams
from jobctl.cli.progress import PlainProgress
from jobctl.cli.root import app
from jobctl.cli.state import AppState, GlobalOptions
from jobctl.cli.waiting import display_id, follow_jobs, resume_command
from jobctl.errors import NotFoundError
from jobctl.models import Job, JobEvent, Progress, WaitTimeoutError


class ScriptedClient:
    """Plays a script per job: progress snapshots, then an end (a Job, an exception, or hang)."""

    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.cancelled: list[str] = []
        self.timeouts: list[Deadline] = []
        self.keys: list[str | None] = []

    async def __aenter__(self) -> ScriptedClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def deadline(self, seconds: float | None) -> Deadline:
        return Runtime().deadline(seconds)

    async def wait(
        self, ref: str, *, timeout: Deadline, on_progress: Any, strategy: str, **kw: Any
    ) -> Job:
        self.timeouts.append(timeout)
        end = self.script[ref]
        if on_progress is not None:
            on_progress(Job(job_id=ref, status="processing", progress=Progress(current=1, total=2)))
        await asyncio.sleep(0)
        if end == "hang":
            if ref == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(30)
        if isinstance(end, BaseException):
            raise end
        return Job(job_id=ref, status=end)

    async def wait_many(
        self, refs: list[str], *, timeout: Deadline, on_event: Any, strategy: str, **kw: Any
    ) -> list[Job]:
        """As the SDK's: one refused job refuses them all; the rest end as they go."""
        self.timeouts.append(timeout)
        ends = [self.script[ref] for ref in refs]
        for end in ends:
            if isinstance(end, BaseException) and not isinstance(end, WaitTimeoutError):
                raise end
        for ref, end in zip(refs, ends, strict=True):
            snapshot = Job(job_id=ref, status="processing", progress=Progress(current=1, total=2))
            on_event(JobEvent(event="progress", job_id=ref, job=snapshot))
            if isinstance(end, str) and end != "hang":
                on_event(JobEvent(event="complete", job_id=ref, job=Job(job_id=ref, status=end)))
        await asyncio.sleep(0)
        if "hang" in ends:
            if "sigint" in refs:
                os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(30)
        late = [end for end in ends if isinstance(end, WaitTimeoutError)]
        if late:
            raise WaitTimeoutError(
                late[0].job, late[0].timeout, jobs=[e.job for e in late if e.job]
            )
        return [Job(job_id=ref, status=end) for ref, end in zip(refs, ends, strict=True)]

    async def cancel(self, ref: str) -> Job:
        self.cancelled.append(ref)
        return Job(job_id=ref, status="cancelled")

    async def submit(self, type: str, input: Any, *, idempotency_key: str, **kw: Any) -> Job:
        self.keys.append(idempotency_key)
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(30)
        raise AssertionError("not reached")


def state() -> AppState:
    return AppState(GlobalOptions(progress="plain"), IOStreams.test())


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_outcomes_and_one_deadline_for_all() -> None:
    timed_out = WaitTimeoutError(Job(job_id="slow", status="processing"), 5.0)
    client = ScriptedClient(
        {"ok": "completed", "bad": "failed", "slow": timed_out, "gone": NotFoundError("404")}
    )
    st = state()
    display = PlainProgress(st.io.stderr)
    deadline = client.deadline(5.0)
    outcomes = run(
        follow_jobs(st, client, ["ok", "bad", "slow", "gone"], deadline=deadline, display=display)  # type: ignore[arg-type]
    )
    assert [o.code for o in outcomes] == [0, 3, 7, 6]
    # one stream for all, refused for the unknown job: then each on its own, all under
    # the same deadline, not four countdowns
    assert client.timeouts == [deadline] * 5


def test_several_jobs_share_one_stream_and_end_as_they_go() -> None:
    timed_out = WaitTimeoutError(Job(job_id="slow", status="processing"), 5.0)
    client = ScriptedClient({"ok": "completed", "bad": "failed", "slow": timed_out})
    st = state()
    display = PlainProgress(st.io.stderr)
    deadline = client.deadline(5.0)
    outcomes = run(
        follow_jobs(st, client, ["ok", "bad", "slow"], deadline=deadline, display=display)  # type: ignore[arg-type]
    )
    assert [o.code for o in outcomes] == [0, 3, 7]
    assert client.timeouts == [deadline]  # wait_many once; no job followed on its own
    assert outcomes[2].job is not None and outcomes[2].job.status == "processing"
    err = st.io.err_text()
    assert "ok completed" in err and "slow processing 1/2 (50%)" in err
    assert "ok processing 1/2 (50%)" in st.io.err_text()


def test_sigint_stops_waiting_and_names_how_to_resume() -> None:
    client = ScriptedClient({"sigint": "hang", "other": "completed"})
    with pytest.raises(CliError) as info:
        run(follow_jobs(state(), client, ["sigint", "other"], deadline=Deadline()))  # type: ignore[arg-type]
    assert info.value.code == 130
    assert "resume with: jobctl wait sigint" in info.value.message
    assert client.cancelled == []


def test_sigint_with_cancel_on_interrupt_cancels_unfinished_jobs_only() -> None:
    client = ScriptedClient({"sigint": "hang", "other": "completed"})
    st = state()
    with pytest.raises(CliError) as info:
        run(
            follow_jobs(
                st,
                client,  # type: ignore[arg-type]
                ["sigint", "other"],
                deadline=Deadline(),
                cancel_on_interrupt=True,
            )
        )
    assert info.value.code == 130 and "keeps running" not in info.value.message
    assert client.cancelled == ["sigint"]
    assert "cancelled job sigint" in st.io.err_text()


def test_interrupted_submit_names_the_idempotency_key(monkeypatch: pytest.MonkeyPatch) -> None:
    client = ScriptedClient({})
    monkeypatch.setattr(AppState, "async_client", lambda self: client)
    result = CliRunner().invoke(app, ["submit", "echo"])
    assert result.exit_code == 130
    (key,) = client.keys
    assert key.startswith("jobctl-")
    assert f"re-run the same command with --idempotency-key {key}" in result.stderr


def test_refs() -> None:
    assert display_id("http://h:1/api/jobs/abc?x=1") == "abc"
    assert display_id("abc") == "abc"
    assert resume_command(["a", "http://h/api/jobs/b/"]) == "jobctl wait a b"
