"""The local ledger of submitted jobs: a small JSON-lines file in the user's state dir.

Each ``jobctl submit`` (and ``retry``) appends one line: the job id, its status
URL, the API base URL, the job type, the idempotency key and the time. It lets
``--last`` find the newest job submitted to the server in use, and lets a re-run
``submit`` with the same ``--idempotency-key`` say which job it resumed.

Every entry belongs to the server it was submitted to: ``--last`` only ever
looks at the entries of the configured base URL, so it can never send one
server's token to another. Tokens and URL passwords are never written here, and
a status URL is kept only when it is on the base URL's own origin (a server may
name any URL; following it with the token would be a leak).

The file lives at ``platformdirs.user_state_dir("jobctl")/jobs.jsonl``
(``JOBCTL_STATE_DIR`` overrides the directory). Appends are single ``write``
calls on an ``O_APPEND`` descriptor, so concurrent jobctl processes do not
interleave lines; the file is trimmed to the newest ``keep`` entries when it
grows past twice that.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .urls import same_origin, server_key

__all__ = ["Ledger", "LedgerEntry", "default_ledger_path"]


@dataclass(frozen=True)
class LedgerEntry:
    """One submitted job, as remembered locally.

    Args:
        job_id: the job id.
        status_url: the absolute status URL (jobctl can talk to it directly).
        base_url: the API base URL the job was submitted to.
        type: the job type.
        idempotency_key: the key sent with the submit, if any.
        time: when it was recorded (RFC 3339, UTC).
        token: for an operation of any API (``jobctl call``): its resume token, which
            holds no credential (``job_id`` is then a short name for it).
    """

    job_id: str
    status_url: str | None
    base_url: str
    type: str | None = None
    idempotency_key: str | None = None
    time: str = ""
    token: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LedgerEntry | None:
        """Build an entry from a decoded line; None when the line is not an entry.

        Args:
            data: the decoded JSON object.
        """
        job_id = data.get("job_id")
        base_url = data.get("base_url")
        if not isinstance(job_id, str) or not isinstance(base_url, str):
            return None

        def opt(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(
            job_id=job_id,
            status_url=opt("status_url"),
            base_url=base_url,
            type=opt("type"),
            idempotency_key=opt("idempotency_key"),
            time=opt("time") or "",
            token=opt("token"),
        )


def default_ledger_path() -> Path:
    """``$JOBCTL_STATE_DIR/jobs.jsonl``, else the platform's user state dir."""
    override = os.environ.get("JOBCTL_STATE_DIR")
    if override:
        return Path(override).expanduser() / "jobs.jsonl"
    from platformdirs import user_state_dir

    return Path(user_state_dir("jobctl")) / "jobs.jsonl"


class Ledger:
    """Append-only record of submitted jobs, newest last.

    Args:
        path: the JSON-lines file (default: ``default_ledger_path()``).
        keep: how many entries survive a trim.
    """

    def __init__(self, path: Path | None = None, *, keep: int = 500) -> None:
        self.path = path or default_ledger_path()
        self.keep = keep

    def record(
        self,
        *,
        job_id: str,
        status_url: str | None,
        base_url: str,
        type: str | None = None,
        idempotency_key: str | None = None,
        now: datetime | None = None,
        token: str | None = None,
    ) -> LedgerEntry:
        """Append one entry (best effort: an unwritable state dir is not an error).

        Args:
            job_id: the job id.
            status_url: its absolute status URL.
            base_url: the API base URL.
            type: the job type.
            idempotency_key: the key sent with the submit.
            now: the time to record (default: now, UTC).
            token: an operation's resume token (``jobctl call``).
        """
        when = (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
        base_url = server_key(base_url)
        if status_url is not None and not same_origin(status_url, base_url):
            status_url = None
        entry = LedgerEntry(job_id, status_url, base_url, type, idempotency_key, when, token)
        line = json.dumps(asdict(entry), separators=(",", ":")) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
            self._maybe_trim()
        except OSError:
            pass
        return entry

    def entries(self) -> list[LedgerEntry]:
        """Every readable entry, oldest first (broken lines are skipped)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return []
        out: list[LedgerEntry] = []
        for line in text.splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict) and (entry := LedgerEntry.from_dict(data)):
                out.append(entry)
        return out

    def last(self, base_url: str | None = None) -> LedgerEntry | None:
        """The newest entry (for one API base URL when given), or None.

        Args:
            base_url: only consider jobs submitted to this base URL.
        """
        key = None if base_url is None else server_key(base_url)
        for entry in reversed(self.entries()):
            # an operation's token holds no credential: it may be followed from anywhere
            if key is None or entry.base_url == key or entry.token is not None:
                return entry
        return None

    def find_key(self, idempotency_key: str, base_url: str) -> LedgerEntry | None:
        """The newest job submitted with this idempotency key to this base URL, or None.

        Args:
            idempotency_key: the key.
            base_url: the API base URL.
        """
        key = server_key(base_url)
        for entry in reversed(self.entries()):
            if entry.idempotency_key == idempotency_key and entry.base_url == key:
                return entry
        return None

    def _maybe_trim(self) -> None:
        try:
            size = self.path.stat().st_size
        except OSError:
            return
        if size < self.keep * 2 * 120:  # cheap pre-check: ~120 bytes a line
            return
        entries = self.entries()
        if len(entries) <= self.keep * 2:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            body = "".join(
                json.dumps(asdict(e), separators=(",", ":")) + "\n" for e in entries[-self.keep :]
            )
            os.write(fd, body.encode())
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
