"""The public surface: SDK.md's names, a sorted __all__, a light import, no drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jobctl

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from unasync import TARGET, generate

SDK_NAMES = {
    "JobsClient",
    "AsyncJobsClient",
    "Job",
    "JobStatus",
    "Progress",
    "JobError",
    "JobEvent",
    "PollPolicy",
    "JobctlError",
    "APIError",
    "AuthError",
    "NotFoundError",
    "ConflictError",
    "ServiceUnavailableError",
    "JobFailedError",
    "JobCancelledError",
    "WaitTimeoutError",
}


def test_all_is_sorted_and_complete() -> None:
    assert jobctl.__all__ == sorted(jobctl.__all__)
    assert set(jobctl.__all__) >= SDK_NAMES
    for name in jobctl.__all__:
        assert getattr(jobctl, name) is not None


def test_the_clients_have_the_same_methods() -> None:
    public = {
        name
        for name in dir(jobctl.JobsClient)
        if not name.startswith("_") and callable(getattr(jobctl.JobsClient, name))
    }
    assert public == {
        "submit",
        "get",
        "wait",
        "wait_many",
        "as_completed",
        "watch",
        "events",
        "events_ticket",
        "cancel",
        "retry",
        "list",
        "iter_jobs",
        "download",
        "run",
        "deadline",
        "call",
        "wait_operation",
        "cancel_operation",
        "close",
    }
    async_public = {
        n.replace("aclose", "close")
        for n in dir(jobctl.AsyncJobsClient)
        if not n.startswith("_") and callable(getattr(jobctl.AsyncJobsClient, n))
    }
    assert async_public == public


def test_import_jobctl_is_light() -> None:
    code = "import sys, jobctl; print('httpx' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_sync_client_is_generated_from_the_async_one() -> None:
    expected = generate()
    actual = Path(TARGET).read_text("utf-8")
    assert actual == expected, "_io/sync.py drifted from _io/aio.py: run python scripts/unasync.py"


def test_every_public_method_has_a_docstring_with_args() -> None:
    for cls in (jobctl.JobsClient, jobctl.AsyncJobsClient):
        assert cls.__doc__ and "Args:" in cls.__doc__
        for name in ("submit", "get", "wait", "events", "cancel", "retry", "list", "download"):
            doc = getattr(cls, name).__doc__
            assert doc and "Args:" in doc, f"{cls.__name__}.{name}"
