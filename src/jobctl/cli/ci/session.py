"""One command's CI reporting: what it followed, and the files and lines it writes at the end.

A command that follows jobs makes a ``CiSession`` with ``ci_session`` (which
checks ``--junit`` / ``--dotenv`` before anything is sent) and runs its body with
``CiSession.run``. Meanwhile ``waiting.follow_jobs`` hands it the ``Outcome``s
it fills in (``track``) and ``download.save_result`` the files it saved
(``saved``). When the body returns, or raises (a timeout, Ctrl-C, SIGTERM, an
error), ``run`` writes, from what it knows by then:

- on GitHub Actions: the error annotations (stderr), ``$GITHUB_OUTPUT``,
  ``$GITHUB_STEP_SUMMARY``;
- ``--junit FILE`` and ``--dotenv FILE``, each written atomically (a temporary
  file beside it, renamed into place).

The exit code and stdout are never changed: a file that can't be written is a
warning on stderr. Secrets (the token, passwords in the URL, webhook secrets)
are replaced with ``***`` in every field and again in every text written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..exitcodes import CliError, ExitCode, code_for_exception
from ..render import error_text, wire_status
from ..text import clean
from . import github
from .detect import detect
from .dotenv import dotenv_text
from .escape import redact
from .junit import junit_xml
from .records import CiJob, CiRun, Kind

if TYPE_CHECKING:
    from ..display import NullProgress
    from ..state import AppState
    from ..waiting import Outcome

__all__ = ["CiSession", "ci_session"]


def _check_file(flag: str, path: Path) -> None:
    """A usage error now, before anything is sent, when ``path`` can't be written later."""
    if path.is_dir():
        raise CliError(f"{flag} {path}: is a directory; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise CliError(f"{flag} {path}: directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"{flag} {path}: directory {parent} is not writable")


def ci_session(
    state: AppState, title: str, *, junit: str | None = None, dotenv: str | None = None
) -> CiSession:
    """Make the command's CI session (also when nothing is to be reported) and keep it on
    ``state.ci``.

    On GitHub Actions stderr is guarded from then on (``github.CommandGuard``).

    Args:
        state: the run's state.
        title: ``jobctl wait``, ``jobctl submit report``, ...
        junit: ``--junit FILE``.
        dotenv: ``--dotenv FILE``.
    """
    paths = {
        flag: Path(v).expanduser()
        for flag, v in (("--junit", junit), ("--dotenv", dotenv))
        if v is not None
    }
    for flag, path in paths.items():
        _check_file(flag, path)
    system = detect(state.ci_mode, state.io.env)
    session = CiSession(
        state, title, system=system, junit=paths.get("--junit"), dotenv=paths.get("--dotenv")
    )
    if system == "github" and not isinstance(state.io.stderr, github.CommandGuard):
        state.io.stderr = github.CommandGuard(state.io.stderr)  # type: ignore[assignment]
    state.ci = session
    return session


@dataclass
class _Saved:
    path: Path | None  # None: written to stdout
    size: int | None = None
    sha256: str | None = None


class CiSession:
    """What one command followed and saved, reported to CI when it ends.

    Args:
        state: the run's state.
        title: what the run is called in reports.
        system: ``github``, ``gitlab`` or None.
        junit: where to write the JUnit report.
        dotenv: where to write the dotenv file.
        clock: a monotonic clock.
        wall: the wall clock (UTC).
    """

    def __init__(
        self,
        state: AppState,
        title: str,
        *,
        system: str | None,
        junit: Path | None = None,
        dotenv: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.state = state
        self.title = title
        self.system = system
        self.junit = junit
        self.dotenv = dotenv
        self.clock = clock
        self.started = wall()
        self._t0 = clock()
        self._outcomes: list[Outcome] = []
        self._since: dict[int, float] = {}
        self._saved: dict[str, _Saved] = {}
        self._downloading: set[str] = set()
        self._type: str | None = None

    @property
    def active(self) -> bool:
        """Whether anything is to be reported (a CI system, ``--junit`` or ``--dotenv``)."""
        return self.system is not None or self.junit is not None or self.dotenv is not None

    def display(self) -> NullProgress:
        """The progress display: plain lines in a group or section per job on a CI system,
        else what ``--progress`` asks for."""
        from ..progress import make_job_progress

        mode = self.state.progress_mode
        if mode == "plain" and self.system is not None:
            from .groups import GroupedProgress

            return GroupedProgress(self.state.io.stderr, self.system, secrets=self._secrets())
        return make_job_progress(
            mode, stderr=self.state.io.stderr, console=lambda: self.state.io.err
        )

    def expect(self, type: str) -> None:
        """The job about to be submitted (reported as not submitted if that fails).

        Args:
            type: its type.
        """
        self._type = type

    def track(self, outcomes: Sequence[Outcome]) -> None:
        """Report these jobs (the waiter fills them in as they progress).

        Args:
            outcomes: one per job, in the order given.
        """
        now = self.clock()
        for outcome in outcomes:
            self._since[id(outcome)] = now
            self._outcomes.append(outcome)

    def downloading(self, job_id: str) -> None:
        """A job's result is being saved (if the command stops first, it was not).

        Args:
            job_id: the job.
        """
        self._downloading.add(job_id)

    def saved(self, job_id: str, path: Path | None) -> None:
        """A job's result was saved to ``path``.

        Args:
            job_id: the job.
            path: the file; None for stdout (``-o -``).
        """
        self._saved[job_id] = _Saved(path)

    def run(self, body: Callable[[], int | None]) -> int:
        """Run the command's body, then report; the body's exit code (or exception) stands.

        Args:
            body: the command; returns its exit code (None for 0).
        """
        try:
            code = int(body() or 0)
        except BaseException as exc:
            if not isinstance(exc, SystemExit | GeneratorExit):
                self._finish(int(code_for_exception(exc)), exc)
            raise
        self._finish(code, None)
        return code

    # ---- the report -----------------------------------------------------------------
    def _finish(self, code: int, ended_by: BaseException | None) -> None:
        if not self.active:
            return
        try:
            run = self.report(code, ended_by)
            self._write(run)
        except Exception as exc:  # reporting never changes the outcome
            self._warn("could not write the CI report", exc)

    def report(self, code: int, ended_by: BaseException | None = None) -> CiRun:
        """What is known now, as the writers read it.

        Args:
            code: the command's exit code.
            ended_by: the exception that ended the command, if any.
        """
        jobs = [self._record(outcome, ended_by) for outcome in self._outcomes]
        if not jobs and self._type is not None and ended_by is not None:
            jobs.append(self._not_submitted(ended_by))
        if any(job.type is None and job.job_id is not None for job in jobs):
            types = self._ledger_types()  # a job followed by events may never say its type
            for job in jobs:
                if job.type is None and job.job_id is not None:
                    job.type = types.get(job.job_id)
        return CiRun(self.title, self.started, self.clock() - self._t0, code, jobs)

    def _ledger_types(self) -> dict[str, str]:
        """The types of the jobs submitted to this server from here (the local ledger)."""
        try:
            server = self.state.server
            entries = self.state.ledger().entries()
        except Exception:
            return {}
        return {e.job_id: e.type for e in entries if e.type and e.base_url == server}

    def _secrets(self) -> list[str]:
        return self.state.secrets()

    def _line(self, exc: BaseException) -> str:
        from ..failure import error_line

        return error_line(self.state, exc)

    def _not_submitted(self, exc: BaseException) -> CiJob:
        code = code_for_exception(exc)
        return CiJob(
            None,
            self._type,
            "not submitted",
            "interrupted" if code in _SIGNALS else "error",
            int(code),
            reason=self._line(exc),
            error_code=code.name.lower(),
        )

    def _record(self, outcome: Outcome, ended_by: BaseException | None) -> CiJob:
        from ..waiting import display_id

        job = outcome.job
        status = wire_status(job.status) if job is not None else "unknown"
        kind: Kind
        error_code: str | None = None
        reason = ""
        exit_code = int(outcome.code)
        saved = self._saved.get(outcome.job_id) or self._saved.get(display_id(outcome.ref))
        result = outcome.operation  # an operation of any API (`jobctl call`, `wait TOKEN`)
        if result is not None and outcome.error is None:
            kind = _OPERATION_KINDS[result.outcome]
            status = result.status or result.outcome
            if kind != "completed":
                from ..operations import error_of

                reason = error_of(result) or result.outcome
                error = result.error if isinstance(result.error, dict) else {}
                error_code = str(error.get("code") or result.outcome)
        elif outcome.error is not None:
            timed_out = type(outcome.error).__name__ == "WaitTimeoutError"
            kind = "timeout" if timed_out else "error"
            error_code = "timeout" if timed_out else ExitCode(exit_code).name.lower()
            reason = self._line(outcome.error)
        elif job is not None and job.is_terminal:
            kind = status  # type: ignore[assignment]  # completed, failed or cancelled
            if job.error is not None:
                error_code, reason = job.error.code, error_text(job.error)
            elif kind != "completed":
                reason = status
        elif saved is not None:  # `jobctl result`: it has a result, so it completed
            kind, status, exit_code = "completed", "completed", 0
        else:
            kind = "pending"
        downloading = {outcome.job_id, display_id(outcome.ref)} & self._downloading
        unsaved = kind == "completed" and saved is None and bool(downloading)
        if ended_by is not None and (kind == "pending" or unsaved):
            # The command stopped (Ctrl-C, SIGTERM, an error) before it was done with this job.
            code = code_for_exception(ended_by)
            reason = self._line(ended_by)
            if unsaved:
                reason = f"the job completed, but its result was not saved: {reason}"
            kind = "interrupted" if code in _SIGNALS else "error"
            exit_code, error_code = int(code), code.name.lower()
        secrets = self._secrets()
        type_ = job.type if job is not None and job.type else self._type
        if result is not None:
            type_ = f"{result.dialect} operation"
        record = CiJob(
            outcome.job_id,
            redact(type_, secrets) if type_ else None,
            redact(status, secrets),
            kind,
            exit_code,
            duration=self._duration(outcome),
            reason=redact(reason, secrets),
            error_code=redact(error_code, secrets) if error_code else None,
            result_url=redact(job.result_url, secrets) if job and job.result_url else None,
            resume_token=self._resume_token(outcome),
        )
        if saved is not None and saved.path is not None:
            self._describe_file(saved)
            record.result_path = str(saved.path)
            record.result_size, record.result_sha256 = saved.size, saved.sha256
        return record

    @staticmethod
    def _resume_token(outcome: Outcome) -> str | None:
        """An operation's resume token: from its result, the ``Operation``, or the JOB given."""
        if outcome.operation is not None and outcome.operation.resume_token:
            return outcome.operation.resume_token
        ref = outcome.ref
        if isinstance(ref, str):
            return ref if ref.startswith("jobctl-op") else None
        token = getattr(ref, "resume_token", None)  # an Operation (a Job has none)
        return token if isinstance(token, str) else None

    def _duration(self, outcome: Outcome) -> float | None:
        job = outcome.job
        if job is not None and job.is_terminal and job.created_at is not None:
            end = job.completed_at or job.cancelled_at or job.updated_at
            if end is not None:
                return max(0.0, (end - job.created_at).total_seconds())
        if job is None:  # never seen: how long it took to find that out is not known
            return None
        since = self._since.get(id(outcome))
        return self.clock() - since if since is not None else None

    @staticmethod
    def _describe_file(saved: _Saved) -> None:
        if saved.sha256 is not None or saved.path is None:
            return
        try:
            st = os.stat(saved.path)
            if not stat.S_ISREG(st.st_mode):
                return
            digest = hashlib.sha256()
            with open(saved.path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        except OSError:
            return
        saved.size, saved.sha256 = st.st_size, digest.hexdigest()

    # ---- writing ----------------------------------------------------------------------
    def _write(self, run: CiRun) -> None:
        secrets = self._secrets()
        env = self.state.io.env
        if self.system == "github":
            for line in github.error_annotations(run):
                self.state.io.write_err(redact(line, secrets))
            self._append("$GITHUB_OUTPUT", env.get("GITHUB_OUTPUT"), github.outputs(run))
            self._summary(run, env.get("GITHUB_STEP_SUMMARY"))
        if self.junit is not None:
            data = junit_xml(run, lambda s: redact(s, secrets))
            self._replace("--junit", self.junit, redact(data.decode(), secrets))
        if self.dotenv is not None:
            text, warnings = dotenv_text(run)
            for warning in warnings:
                self.state.io.write_err(f"warning: --dotenv: {warning}")
            self._replace("--dotenv", self.dotenv, redact(text, secrets))

    def _summary(self, run: CiRun, where: str | None) -> None:
        if not where:
            return
        try:
            used = os.path.getsize(where)
        except OSError:
            used = 0
        text = github.step_summary(run, github.SUMMARY_BUDGET - used)
        if text:
            self._append("$GITHUB_STEP_SUMMARY", where, text)

    def _append(self, what: str, where: str | None, text: str) -> None:
        if not where:
            return
        try:
            with open(where, "a", encoding="utf-8", newline="") as fh:
                fh.write(redact(text, self._secrets()))
        except OSError as exc:
            self._warn(f"could not write {what} ({clean(where)})", exc)

    def _replace(self, flag: str, path: Path, text: str) -> None:
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            self._warn(f"could not write {flag} {clean(str(path))}", exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _warn(self, what: str, exc: BaseException) -> None:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        self.state.io.write_err(f"warning: {what}: {clean(redact(reason, self._secrets()))}")


_SIGNALS = (ExitCode.INTERRUPTED, ExitCode.TERMINATED)
_OPERATION_KINDS: dict[str, Kind] = {
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "timeout": "timeout",
    "error": "error",
}
