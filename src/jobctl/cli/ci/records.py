"""The one record of a followed job that every CI writer reads, and of the run.

``session.CiSession`` makes them from the ``waiting.Outcome``s a command
followed (plus the result files it saved); ``github.py``, ``gitlab.py``,
``junit.py`` and ``dotenv.py`` only read them. Text fields are raw (server text
as sent, secrets already replaced by ``***``): each writer escapes them for its
own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["KIND_WORDS", "CiJob", "CiRun", "Kind"]

Kind = Literal["completed", "failed", "cancelled", "timeout", "error", "interrupted", "pending"]
"""How following a job ended, for the writers:

``completed``, ``failed``, ``cancelled``: the job's own end; ``timeout``: ``--timeout``
ran out first; ``error``: it could not be followed (not found, unreachable, refused,
not submitted); ``interrupted``: Ctrl-C or SIGTERM stopped jobctl first; ``pending``:
nobody waited for it (``submit`` without ``--wait``)."""

KIND_WORDS: dict[str, str] = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "timeout": "timed out",
    "error": "error",
    "interrupted": "interrupted",
    "pending": "submitted",
}
"""How each kind reads in titles and tables."""


@dataclass
class CiJob:
    """One job as the CI writers see it.

    Args:
        job_id: the job's id; None when it was never submitted.
        type: its type, when known.
        status: its last known status on the wire (``completed``, ``processing``, ...),
            ``unknown`` when it was never seen.
        kind: how following it ended.
        exit_code: this job's exit code (``exitcodes``).
        duration: seconds from its creation to its end (server clock), else how long
            jobctl followed it; None when unknown.
        reason: why it did not complete, one or more lines (``code: message``, or
            jobctl's error line); ``""`` when it completed.
        error_code: the job's error code (failed or cancelled jobs), or the kind of
            problem (``timeout``, ``not_found``, ...).
        result_path: the file its result was saved to.
        result_size: that file's size in bytes.
        result_sha256: that file's SHA-256 (hex).
        result_url: the job's result URL (may be signed: never put in reports others read).
        resume_token: an operation's resume token (``jobctl wait TOKEN`` follows it again).
    """

    job_id: str | None
    type: str | None
    status: str
    kind: Kind
    exit_code: int
    duration: float | None = None
    reason: str = ""
    error_code: str | None = None
    result_path: str | None = None
    result_size: int | None = None
    result_sha256: str | None = None
    result_url: str | None = None
    resume_token: str | None = None

    @property
    def ok(self) -> bool:
        """Whether nothing is to be reported about it (it completed, or was only submitted)."""
        return self.kind in ("completed", "pending")

    @property
    def label(self) -> str:
        """``report 1f2e3d4c`` (raw: escape it where it is shown)."""
        what = self.job_id if self.job_id is not None else "(not submitted)"
        return f"{self.type} {what}" if self.type else what


@dataclass
class CiRun:
    """What one command reports.

    Args:
        title: ``jobctl wait``, ``jobctl submit report``, ...
        started: when the command started following (UTC).
        elapsed: seconds since then.
        exit_code: the command's exit code.
        jobs: one record per job, in the order given.
    """

    title: str
    started: datetime
    elapsed: float
    exit_code: int
    jobs: list[CiJob] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        """How many jobs ended in one of ``kinds``.

        Args:
            kinds: kinds of ``Kind``.
        """
        return sum(1 for job in self.jobs if job.kind in kinds)

    def tally(self) -> str:
        """``1 completed, 1 failed, 1 timed out`` (kinds in a fixed order, none left out)."""
        parts = []
        for kind, word in KIND_WORDS.items():
            n = self.count(kind)
            if n:
                parts.append(f"{n} {word}")
        return ", ".join(parts) or "no jobs"
