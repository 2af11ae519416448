"""Operations of any async API in the CLI: which JOB arguments are operations, their exit
codes, how they are named and printed.

A JOB argument is an operation when it is a resume token (``jobctl-op1.``), or a URL
that is not a job of the configured API (``/api/jobs/ID`` on the ``--url`` origin):
its dialect is then read from its first answer. Outcomes map to exit codes as
docs/operations.md says: succeeded 0, failed 3, cancelled 5, timeout 7, and an
``error`` the code of its cause.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .exitcodes import ExitCode, code_for_exception
from .urls import same_origin

if TYPE_CHECKING:
    from .. import Operation, OperationResult

__all__ = [
    "code_for_outcome",
    "describe_operation",
    "error_of",
    "is_operation",
    "operation_key",
    "result_bytes",
]

_TOKEN = "jobctl-op"  # noqa: S105 - the resume tokens' prefix (jobctl._core.operations)
_JOB_PATH = re.compile(r"/api/jobs/[^/?#]+/?(?:(?:result|events)/?)?(?:[?#].*)?$")


def is_operation(ref: object, server: str) -> bool:
    """Whether a JOB argument is an operation (a token, or a URL that is no job of ours).

    Args:
        ref: the argument (a string, a ``Job`` or an ``Operation``).
        server: the configured base URL.
    """
    if not isinstance(ref, str):
        return type(ref).__name__ == "Operation"
    if ref.startswith(_TOKEN):
        return True
    if "://" not in ref:
        return False
    return not (same_origin(ref, server) and _JOB_PATH.search(ref.split("://", 1)[1]))


def operation_key(ref: object) -> str:
    """A short name for an operation in progress rows and lines.

    Args:
        ref: a resume token, a monitor URL or an ``Operation``.
    """
    if isinstance(ref, str) and ref.startswith(_TOKEN):
        return "op-" + ref.rsplit(".", 1)[-1][:8]
    if not isinstance(ref, str) and getattr(ref, "dialect", "pending") != "pending":
        # the name the ledger keeps it under, so ``jobctl wait op-...`` finds it again
        return operation_key(getattr(ref, "resume_token", ""))
    url = ref if isinstance(ref, str) else (getattr(ref, "url", "") or "")
    path = str(url).split("#", 1)[0].split("?", 1)[0].rstrip("/")
    # the last segment that names something: /jobs/ID/status -> ID, /operations/ID:wait -> ID
    for segment in reversed(path.split("://", 1)[-1].split("/")[1:]):
        name = segment.split(":", 1)[0]
        if name and name.lower() not in _GENERIC:
            return name[:40]
    return "operation"


_GENERIC = frozenset(
    {
        "status",
        "result",
        "results",
        "operations",
        "operation",
        "operationresults",
        "asyncoperations",
        "operationstatuses",
        "monitor",
        "poll",
        "jobs",
        "v1",
        "api",
    }
)


def code_for_outcome(result: OperationResult) -> ExitCode:
    """The exit code of an operation's outcome.

    Args:
        result: how following it ended.
    """
    if result.outcome == "error":
        return code_for_exception(result.exception) if result.exception else ExitCode.UNAVAILABLE
    return {
        "succeeded": ExitCode.OK,
        "failed": ExitCode.FAILED,
        "cancelled": ExitCode.CANCELLED,
        "timeout": ExitCode.TIMEOUT,
    }[result.outcome]


def result_bytes(result: OperationResult) -> bytes:
    """The final result as it goes to stdout or ``-o``: bytes as they came, JSON as JSON.

    Args:
        result: how following it ended.
    """
    value: Any = result.result
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def error_of(result: OperationResult) -> str:
    """``code: message`` of an operation that did not succeed, raw (escape where shown).

    Args:
        result: how following it ended.
    """
    if result.exception is not None:
        return str(result.exception)
    error = result.error
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
        parts = [str(p) for p in (code, message) if p not in (None, "")]
        return ": ".join(parts) or json.dumps(error)[:200]
    return "" if error is None else str(error)[:200]


def describe_operation(op: Operation) -> str:
    """``azure operation ...abc`` for hints.

    Args:
        op: the operation.
    """
    return f"{op.dialect} operation {operation_key(op)}"
