"""One line for stderr per error: what went wrong and what to do.

``describe`` turns any exception a command raised into that line; the exit code
comes from ``exitcodes.code_for_exception``. Messages come from the SDK's
exceptions, which never carry tokens; as a second fence, ``describe`` removes
the token from the line if it ever appears. They also carry server text (a
problem+json ``detail``, a job's error message, a URL, a file name), so the
whole line goes through ``text.clean`` once, at the end: no control character,
bidi override or forged line break reaches the terminal. (So the parts are
built raw here, never pre-escaped.)
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

from ..config import ConfigError
from ..errors import (
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
from .exitcodes import CliError, code_for_exception
from .text import clean, redact
from .urls import server_key

if TYPE_CHECKING:
    from .state import AppState

__all__ = ["describe", "problem_summary", "report_error", "silence_stdout"]


def problem_summary(exc: APIError) -> str:
    """The server's own explanation from a problem+json body, on one line.

    Args:
        exc: an API error.
    """
    problem = exc.problem
    parts: list[str] = []
    detail = problem.get("detail") or problem.get("error") or exc.message
    if isinstance(detail, str) and detail:
        parts.append(detail.rstrip("."))
    for item in exc.details[:5]:
        loc = item.get("loc")
        where = ".".join(str(x) for x in loc) if isinstance(loc, list) else ""
        msg = item.get("msg", "")
        parts.append(f"{where}: {msg}" if where else str(msg))
    types = _offered_types(problem)
    if types and not any("types" in p for p in parts):
        parts.append(f"the server offers: {', '.join(types)}")
    return "; ".join(p for p in parts if p)


def _offered_types(problem: dict[str, Any]) -> list[str]:
    for key in ("types", "availableTypes", "supportedTypes", "knownTypes"):
        value = problem.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [str(v) for v in value]
    return []


def describe(exc: BaseException, *, url: str | None = None, token: str | None = None) -> str:
    """The one stderr line for an exception (without the ``error:`` prefix), escaped.

    Args:
        exc: what a command raised.
        url: the API base URL in use, to name it in connection errors.
        token: the token in use, removed from the line should it ever appear.
    """
    line = _describe(exc, url)
    if token:
        line = redact(line, [token])
    return " ".join(clean(line).split())


def _describe(exc: BaseException, url: str | None) -> str:
    if isinstance(exc, CliError | ConfigError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, InvalidArgumentError):
        return f"{exc}; see `jobctl --help`"
    if isinstance(exc, AuthError):
        what = "not allowed (403)" if exc.status_code == 403 else "refused (401)"
        return (
            f"authentication {what} by {url or exc.url}: check the token "
            "(--token, JOBCTL_TOKEN, or `jobctl config set token TOKEN`)"
        )
    if isinstance(exc, NotFoundError):
        if exc.gone:
            return f"the result has expired (410): {problem_summary(exc)}; submit the job again"
        return f"not found (404): {problem_summary(exc)}; check the job id with `jobctl list`"
    if isinstance(exc, ConflictError | RequestRejectedError):
        code = f" ({exc.status_code})" if exc.status_code else ""
        return f"the server refused the request{code}: {problem_summary(exc)}"
    if isinstance(exc, TLSVerificationError):
        return (
            f"{exc.message}; pass --ca-bundle PATH with the CA that signed it "
            "(--insecure skips verification, and is unsafe)"
        )
    if isinstance(exc, ServiceUnavailableError):
        where = url or exc.url or "the server"
        if exc.status_code is None:
            return (
                f"cannot reach the server at {where}: {exc.message}; is it running? "
                "(start one with `jobctl server`, or set --url / JOBCTL_URL)"
            )
        return f"the service at {where} is unavailable ({exc.status_code}) after retries: " + (
            f"{problem_summary(exc)}; try again later"
        )
    if isinstance(exc, ProtocolError):
        return f"the server's answer does not follow the protocol: {exc.message}"
    models = sys.modules.get("jobctl.models")  # see exitcodes.code_for_exception
    if models is not None and isinstance(exc, models.JobFailedError):
        job = exc.job
        hint = (
            f"; retry it with: jobctl retry {job.job_id}"
            if job.error and job.error.retryable
            else ""
        )
        return f"{exc}{hint}"
    if models is not None and isinstance(exc, models.JobCancelledError):
        return str(exc)
    if models is not None and isinstance(exc, models.WaitTimeoutError):
        from .render import format_duration, wire_status

        after = format_duration(round(exc.timeout))
        if exc.job is None:
            return f"timed out after {after}: the job is still running"
        job = exc.job
        return (
            f"timed out after {after}: job {job.job_id} is still {wire_status(job.status)}; "
            f"resume with: jobctl wait {job.job_id}"
        )
    if isinstance(exc, DownloadError):
        return f"download failed: {exc}; run the same command again to resume"
    if isinstance(exc, APIError):
        return f"request failed: {exc.message}"
    if isinstance(exc, OutputExistsError):
        return (
            f"{exc.path} exists and differs from the result; not replacing it: "
            "use --force to replace it, or -o another path"
        )
    if isinstance(exc, OutputError):
        return str(exc)
    if isinstance(exc, OSError):
        return _local_problem(exc)
    if type(exc).__name__ == "InvalidSignatureError":
        return f"invalid webhook delivery: {exc}"
    return f"unexpected error: {type(exc).__name__}: {exc} (run with --verbose for details)"


def _local_problem(exc: OSError) -> str:
    """One line for an ``OSError`` of this machine: what, and which file."""
    import errno

    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "no space left on the device"
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    where = f": {' -> '.join(names)}" if names else ""
    return f"local problem: {reason}{where}"


def error_line(state: AppState, exc: BaseException) -> str:
    """The one stderr line for ``exc`` (no ``error:`` prefix), naming the server in use.

    Never contains the token or a password from the URL.

    Args:
        state: the run's state.
        exc: what went wrong.
    """
    settings = state.resolved_settings
    hint = exc.resume_hint if isinstance(exc, JobctlError) else None
    if hint is not None and isinstance(exc, APIError):
        # the SDK's sentence speaks Python (idempotency_key=...): say it as a command line
        exc.message = exc.message.replace("; " + hint, "")
    line = describe(exc, url=server_key(settings.url) if settings else None)
    job = getattr(exc, "job", None)
    if state.resume_args and job is not None and type(exc).__name__ == "WaitTimeoutError":
        from .waiting import resume_command

        plain = clean(f"resume with: jobctl wait {job.job_id}")  # the line is escaped
        command = resume_command([job], state.resume_args)
        line = line.replace(plain, "resume with: " + clean(command))
    if hint is not None and isinstance(exc, JobctlError):
        line += (
            f"; the server may have stored the job: re-run the same command with "
            f"--idempotency-key {clean(str(exc.idempotency_key))} to resume it without "
            "making a second one"
        )
    line = redact(line, state.secrets())
    return line


def report_error(exc: BaseException, state: AppState | None, *, verbose: bool) -> int:
    """Print one line for ``exc`` on stderr (and the traceback with --verbose); return its code.

    Args:
        exc: what the command raised.
        state: the run's state, when it was made.
        verbose: print the traceback too.
    """
    line = error_line(state, exc) if state else describe(exc)
    stderr = state.io.stderr if state else sys.stderr
    if verbose and not isinstance(exc, CliError | KeyboardInterrupt):
        text = "".join(traceback.format_exception(exc))
        text = redact(text, state.secrets() if state else [])
        stderr.write("".join(clean(row) + "\n" for row in text.rstrip("\n").split("\n")))
    stderr.write(f"error: {line}\n")
    stderr.flush()
    return int(code_for_exception(exc))


def silence_stdout() -> None:
    """Point stdout at /dev/null (its reader went away: ``jobctl events | head -1``)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
