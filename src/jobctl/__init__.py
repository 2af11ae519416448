"""jobctl: a typed SDK (sync and async) and CLI for async job APIs.

The public names are those in ``__all__`` (docs/sdk.md); everything else is private.
Everything but the exceptions is imported lazily (PEP 562), so ``import jobctl``
(and so ``jobctl --version``, which imports the ``jobctl.cli`` subpackage) pulls in
neither httpx nor pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from ._version import __version__
from .errors import (
    APIError,
    AuthError,
    ConflictError,
    DownloadError,
    InvalidArgumentError,
    JobctlError,
    NotFoundError,
    OutputError,
    OutputExistsError,
    ProtocolError,
    RequestRejectedError,
    ServiceUnavailableError,
    TLSVerificationError,
)

if TYPE_CHECKING:
    from ._core.deadline import Deadline
    from ._core.notices import ConnectionEvent
    from ._core.operations import Operation, OperationResult
    from ._core.polling import PollPolicy
    from ._io.aio import AsyncJobsClient
    from ._io.follow import follow
    from ._io.sync import JobsClient
    from .models import (
        Job,
        JobCancelledError,
        JobError,
        JobEvent,
        JobFailedError,
        JobPage,
        JobStatus,
        Progress,
        WaitTimeoutError,
    )

__all__ = [
    "APIError",
    "AsyncJobsClient",
    "AuthError",
    "ConflictError",
    "ConnectionEvent",
    "Deadline",
    "DownloadError",
    "InvalidArgumentError",
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
    "Operation",
    "OperationResult",
    "OutputError",
    "OutputExistsError",
    "PollPolicy",
    "Progress",
    "ProtocolError",
    "RequestRejectedError",
    "ServiceUnavailableError",
    "TLSVerificationError",
    "WaitTimeoutError",
    "__version__",
    "follow",
]


_LAZY: Final[dict[str, str]] = {
    "AsyncJobsClient": "._io.aio",
    "ConnectionEvent": "._core.notices",
    "Deadline": "._core.deadline",
    "Job": ".models",
    "JobCancelledError": ".models",
    "JobFailedError": ".models",
    "WaitTimeoutError": ".models",
    "JobError": ".models",
    "JobEvent": ".models",
    "JobPage": ".models",
    "JobStatus": ".models",
    "JobsClient": "._io.sync",
    "Operation": "._core.operations",
    "OperationResult": "._core.operations",
    "follow": "._io.follow",
    "PollPolicy": "._core.polling",
    "Progress": ".models",
}


def __getattr__(name: str) -> Any:
    """Import the models, PollPolicy and the clients on first use (pydantic, httpx)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jobctl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
