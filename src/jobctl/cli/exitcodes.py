"""The exit codes of docs/cli.md, and the ONE table that maps errors and job states to them.

Scripts rely on these numbers, so every command takes its exit code from here:
``code_for_exception`` for anything raised, ``code_for_status`` for a job that
ended (or did not end in time), and ``worst`` to combine several jobs.

Several outcomes combine to the worst one in the order
143 > 130 > 1 > 2 > 10 > 8 > 4 > 6 > 9 > 7 > 3 > 5 > 0 (the contract fixes 1 > 8 > 4 >
6 > 7 > 3 > 5 > 0; interrupts, usage errors, local problems and refusals are slotted
in where a script most needs to see them). 10 is ours, added to the contract's
table: a problem of this machine (a file that can't be written, a full disk), which
was exit 1, "a bug in jobctl", before.

Only ``jobctl.errors`` is imported at module level (it is tiny); SDK modules that
pull in httpx or pydantic are imported lazily so ``jobctl --help`` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from enum import IntEnum

from ..config import ConfigError
from ..errors import (
    AuthError,
    ConflictError,
    DownloadError,
    InvalidArgumentError,
    NotFoundError,
    OutputError,
    OutputExistsError,
    ProtocolError,
    RequestRejectedError,
    ServiceUnavailableError,
)

__all__ = ["CliError", "ExitCode", "code_for_exception", "code_for_status", "worst"]


class ExitCode(IntEnum):
    """The process exit codes of docs/cli.md."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    FAILED = 3
    AUTH = 4
    CANCELLED = 5
    NOT_FOUND = 6
    TIMEOUT = 7
    UNAVAILABLE = 8
    REFUSED = 9
    LOCAL = 10
    INTERRUPTED = 130
    TERMINATED = 143


class CliError(Exception):
    """A CLI-level error with its exit code and one line for stderr.

    Args:
        message: what went wrong and what to do, one line.
        code: the exit code.
    """

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


_ORDER: tuple[ExitCode, ...] = (
    ExitCode.TERMINATED,
    ExitCode.INTERRUPTED,
    ExitCode.INTERNAL,
    ExitCode.USAGE,
    ExitCode.LOCAL,
    ExitCode.UNAVAILABLE,
    ExitCode.AUTH,
    ExitCode.NOT_FOUND,
    ExitCode.REFUSED,
    ExitCode.TIMEOUT,
    ExitCode.FAILED,
    ExitCode.CANCELLED,
    ExitCode.OK,
)

# The table: most specific class first. Anything not listed is an internal error (1).
_TABLE: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (CliError, ExitCode.USAGE),  # its own .code wins, see code_for_exception
    (ConfigError, ExitCode.USAGE),
    (InvalidArgumentError, ExitCode.USAGE),
    (AuthError, ExitCode.AUTH),
    (NotFoundError, ExitCode.NOT_FOUND),
    (ConflictError, ExitCode.REFUSED),
    (RequestRejectedError, ExitCode.REFUSED),
    (ServiceUnavailableError, ExitCode.UNAVAILABLE),
    (ProtocolError, ExitCode.UNAVAILABLE),
    (DownloadError, ExitCode.UNAVAILABLE),
    (OutputExistsError, ExitCode.USAGE),  # choose another path, or --force
    (OutputError, ExitCode.LOCAL),
    (KeyboardInterrupt, ExitCode.INTERRUPTED),
    # An OSError that reaches the top is this machine's: a file or directory that
    # can't be read or written, a full disk, a closed stdout (never a network error:
    # the SDK maps those). It is the environment's doing, not a bug in jobctl.
    (OSError, ExitCode.LOCAL),
)


def code_for_exception(exc: BaseException) -> ExitCode:
    """The exit code for an exception (1 for anything unexpected).

    Args:
        exc: the exception a command raised.
    """
    if isinstance(exc, CliError):
        return exc.code
    for cls, code in _TABLE:
        if isinstance(exc, cls):
            return code
    # The errors that carry a Job live in jobctl.models (pydantic), and the webhook
    # errors in jobctl.webhooks: neither is imported to start the CLI, and an
    # instance of their classes can only exist once its module is loaded.
    models = sys.modules.get("jobctl.models")
    if models is not None:
        for cls, code in (
            (models.JobFailedError, ExitCode.FAILED),
            (models.JobCancelledError, ExitCode.CANCELLED),
            (models.WaitTimeoutError, ExitCode.TIMEOUT),
        ):
            if isinstance(exc, cls):
                return code
    webhooks = sys.modules.get("jobctl.webhooks")
    if webhooks is not None and isinstance(exc, webhooks.InvalidSignatureError):
        return ExitCode.FAILED
    return ExitCode.INTERNAL


def code_for_status(status: object) -> ExitCode:
    """The exit code for a job's last known status.

    ``completed`` is 0, ``failed`` 3, ``cancelled`` 5; a job that is still
    ``pending`` or ``processing`` (the wait ran out) is 7.

    Args:
        status: a ``JobStatus`` or the raw status string.
    """
    value = str(getattr(status, "value", status))
    return {
        "completed": ExitCode.OK,
        "failed": ExitCode.FAILED,
        "cancelled": ExitCode.CANCELLED,
    }.get(value, ExitCode.TIMEOUT)


def worst(codes: Iterable[int]) -> ExitCode:
    """The worst of several outcomes (OK for none).

    Args:
        codes: exit codes, one per job.
    """
    seen = {ExitCode(c) for c in codes}
    for code in _ORDER:
        if code in seen:
            return code
    return ExitCode.OK
