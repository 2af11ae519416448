"""The exceptions jobctl raises.

Every error the SDK raises derives from ``JobctlError``::

    JobctlError
    ├── APIError                    the server answered with an error (or not at all)
    │   ├── AuthError               401 / 403
    │   ├── NotFoundError           404 / 410 (``gone`` is True for 410: the result expired)
    │   ├── ConflictError           409 / 422 (idempotency key reuse, wrong state)
    │   ├── RequestRejectedError    400 / 413 and other 4xx
    │   ├── ServiceUnavailableError network errors, 5xx, 429 after the retries ran out
    │   │   └── TLSVerificationError the server's certificate did not verify (not retried)
    │   └── ProtocolError           the server's answer does not follow docs/protocol.md
    ├── JobFailedError              the job ended ``failed`` (``.job``)            ┐ in
    ├── JobCancelledError           the job ended ``cancelled`` (``.job``)         │ jobctl.models,
    ├── WaitTimeoutError            the deadline passed first (``.job``: the last  ┘ beside the Job
    │                               snapshot)                                        they carry
    ├── DownloadError               a result download was cut short or did not verify
    ├── OutputError                 the result can't be written where asked (permissions,
    │   │                           no such directory, disk full, another download on it)
    │   └── OutputExistsError       another file is there and ``overwrite=False``
    └── InvalidArgumentError        a bad argument (also a ``ValueError``): a job reference
                                    that is no id or status URL, a malformed key, a bad limit

Messages never contain a token or a webhook secret. httpx's exceptions are
mapped to these in one place (``jobctl._io.base.map_transport_error``). This
module imports nothing of jobctl's: the three errors that carry a ``Job`` live
in ``jobctl.models`` (``Job.raise_for_status`` raises two of them), so the
models depend on the errors and never the other way round. Import any of them
from ``jobctl``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AuthError",
    "ConflictError",
    "DownloadError",
    "InvalidArgumentError",
    "JobctlError",
    "NotFoundError",
    "OutputError",
    "OutputExistsError",
    "ProtocolError",
    "RequestRejectedError",
    "ServiceUnavailableError",
    "TLSVerificationError",
]


class JobctlError(Exception):
    """The base of every error jobctl raises.

    ``idempotency_key`` is set on every error raised by ``submit`` and ``retry``:
    the key the call sent. When the request may have reached the server (no
    answer, a 5xx, a garbled answer), calling again with that key returns the job
    the server stored instead of making a second one; ``resume_hint`` is then the
    sentence of the message that says so.
    """

    idempotency_key: str | None = None
    resume_hint: str | None = None


class APIError(JobctlError):
    """The API answered with an error status, or could not be reached.

    Args:
        message: one human sentence saying what happened.
        status_code: the HTTP status, or None when no response arrived.
        problem: the decoded problem+json body (empty when the body was not JSON).
        method: the request method.
        url: the request URL (never carries a token).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        problem: dict[str, Any] | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.problem: dict[str, Any] = problem or {}
        self.method = method
        self.url = url

    @property
    def details(self) -> list[dict[str, Any]]:
        """Validation problems from the problem+json ``details`` list."""
        details = self.problem.get("details")
        return details if isinstance(details, list) else []

    def __str__(self) -> str:
        return self.message


class AuthError(APIError):
    """The token was missing, unknown (401) or not allowed (403)."""


class NotFoundError(APIError):
    """No such job (404), or its result has expired (410, ``gone`` is True)."""

    @property
    def gone(self) -> bool:
        """True when the server answered 410 Gone."""
        return self.status_code == 410


class ConflictError(APIError):
    """409 or 422: the job is in the wrong state, or an idempotency key was reused."""


class RequestRejectedError(APIError):
    """The request was refused: 400 (bad input), 413 (too large) and other 4xx."""


class ServiceUnavailableError(APIError):
    """Network errors, 5xx and 429 that outlasted the transport retries."""


class TLSVerificationError(ServiceUnavailableError):
    """The server's TLS certificate did not verify; retrying cannot help.

    Pass a CA bundle (``verify="/path/ca.pem"``) for a private CA.
    """


class ProtocolError(APIError):
    """The server's answer does not follow the protocol (not JSON, missing fields, a loop)."""


class DownloadError(JobctlError):
    """A result download was cut short or did not verify (length or sha256)."""


class OutputError(JobctlError):
    """The result could not be written where asked: no permission, no such directory,
    no space left, or another download writing the same file (the message names it)."""


class OutputExistsError(OutputError):
    """A different file is already where the result should go, and ``overwrite=False``.

    Args:
        path: the file that is there.
    """

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} exists and differs from the result; not replacing it "
            "(pass overwrite=True to replace it, or choose another path)"
        )
        self.path = path


class InvalidArgumentError(JobctlError, ValueError):
    """An argument the SDK cannot use (checked before anything is sent).

    It is also a ``ValueError``, so ``except ValueError`` keeps working; the CLI
    maps it to the usage exit code (2).
    """
