"""jobctl: a typed SDK (sync and async) and CLI for async job APIs.

The public names are those in ``__all__`` (SDK.md); everything else is private.
The clients are imported lazily, so ``import jobctl`` does not import httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._polling import PollPolicy
from ._version import __version__
from .errors import (
    APIError,
    AuthError,
    ConflictError,
    DownloadError,
    JobCancelledError,
    JobctlError,
    JobFailedError,
    NotFoundError,
    ProtocolError,
    RequestRejectedError,
    ServiceUnavailableError,
    WaitTimeoutError,
)
from .models import Job, JobError, JobEvent, JobPage, JobStatus, Progress

if TYPE_CHECKING:
    from .aio import AsyncJobsClient
    from .client import JobsClient

__all__ = [
    "APIError",
    "AsyncJobsClient",
    "AuthError",
    "ConflictError",
    "DownloadError",
    "Job",
    "JobCancelledError",
    "JobError",
    "JobEvent",
    "JobFailedError",
    "JobPage",
    "JobStatus",
    "JobctlError",
    "JobsClient",
    "NotFoundError",
    "PollPolicy",
    "Progress",
    "ProtocolError",
    "RequestRejectedError",
    "ServiceUnavailableError",
    "WaitTimeoutError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import the clients on first use (they pull in httpx and tenacity)."""
    if name == "JobsClient":
        from .client import JobsClient

        return JobsClient
    if name == "AsyncJobsClient":
        from .aio import AsyncJobsClient

        return AsyncJobsClient
    raise AttributeError(f"module 'jobctl' has no attribute {name!r}")
