"""The SQLite store: jobs, worker leases and event logs (keys and deliveries in mixins).

One connection, used only from the event loop's thread, so each method is an
atomic step with respect to every request handler (no ``await`` inside). The
file is in WAL mode; ``:memory:`` gives a throwaway store. Every method that
depends on the time takes ``now`` (unix seconds) so tests can drive the clock.
One process only: nothing else writes the file, so there are no changes to follow.
The feed (``feed``: one autoincrement row per event, pointing into ``events``) is
what multiplexed streams read; it lives as long as the events it points at.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from ..base import ChangeFeed, JobChanges, JobRecord, JobStore, NewJob
from .deliveries import SqliteDeliveries
from .feed import SqliteFeed, chunks
from .keys import SqliteKeys

__all__ = ["SqliteStore"]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL, owner TEXT NOT NULL, type TEXT NOT NULL,
  input TEXT NOT NULL, webhook TEXT, priority INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL, leased INTEGER NOT NULL DEFAULT 0,
  progress_current INTEGER, progress_total INTEGER, progress_message TEXT,
  created_at REAL NOT NULL, updated_at REAL NOT NULL, started_at REAL,
  completed_at REAL, cancelled_at REAL, expires_at REAL,
  output TEXT, error TEXT, result_path TEXT, result_type TEXT, result_size INTEGER,
  result_etag TEXT, result_name TEXT, original_job_id TEXT, attempt INTEGER NOT NULL DEFAULT 1,
  base_url TEXT NOT NULL, correlation_id TEXT, estimated_seconds REAL NOT NULL DEFAULT 0,
  runs INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, seq);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, priority, seq);
CREATE TABLE IF NOT EXISTS idempotency (
  owner TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
  state TEXT NOT NULL, job_id TEXT, response TEXT, created_at REAL NOT NULL,
  PRIMARY KEY (owner, key)
);
CREATE TABLE IF NOT EXISTS names (
  owner TEXT NOT NULL, name TEXT NOT NULL, job_id TEXT NOT NULL, note TEXT NOT NULL,
  updated_at REAL NOT NULL, PRIMARY KEY (owner, name)
);
CREATE TABLE IF NOT EXISTS events (
  job_id TEXT NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL,
  created_at REAL NOT NULL, PRIMARY KEY (job_id, id)
);
CREATE TABLE IF NOT EXISTS feed (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, type TEXT NOT NULL,
  job_id TEXT NOT NULL, event_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS feed_owner ON feed(owner, seq);
CREATE INDEX IF NOT EXISTS feed_job ON feed(job_id, seq);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY, job_id TEXT NOT NULL, owner TEXT NOT NULL, url TEXT NOT NULL,
  secret TEXT, event TEXT NOT NULL, payload BLOB NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_status INTEGER,
  created_at REAL NOT NULL, updated_at REAL NOT NULL
);
"""


_JSON_COLS = ("input", "webhook", "output", "error")


class SqliteStore(SqliteKeys, SqliteDeliveries, SqliteFeed):
    """The reference server's SQLite database (a ``JobStore`` for one process).

    Args:
        path: SQLite file, or ``:memory:``.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def ping(self) -> None:
        """Nothing to reach: opening the file was the check."""

    async def follow_changes(
        self, notify: Callable[[str], None], notify_all: Callable[[], None]
    ) -> ChangeFeed | None:
        """None: this process makes every change, and wakes its waiters itself.

        Args:
            notify: unused.
            notify_all: unused.
        """
        return None

    def secret(self, name: str) -> bytes:
        """A random secret kept in the database (stable across restarts).

        Args:
            name: which secret.
        """
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (name,)).fetchone()
        if row is not None:
            return bytes.fromhex(row[0])
        value = secrets.token_bytes(32)
        self._db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (name, value.hex()))
        return value

    # ---- jobs -----------------------------------------------------------------
    def insert_job(self, job_id: str, job: NewJob, now: float) -> JobRecord:
        """Insert a pending job; JSON columns are encoded here.

        Args:
            job_id: its id.
            job: what to create.
            now: the creation time.
        """
        fields = _encoded(job.fields(job_id, now))
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        self._db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", tuple(fields.values()))  # noqa: S608
        made = self.get_job(job_id)
        assert made is not None
        return made

    def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or None.

        Args:
            job_id: its id.
        """
        row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def get_jobs(self, job_ids: list[str]) -> list[JobRecord | None]:
        """The jobs in the order asked (None for missing ones), read 500 at a time.

        Args:
            job_ids: the jobs.
        """
        found: dict[str, JobRecord] = {}
        for chunk in chunks(job_ids):
            marks = ", ".join("?" for _ in chunk)
            rows = self._db.execute(f"SELECT * FROM jobs WHERE id IN ({marks})", chunk)  # noqa: S608
            found.update((row["id"], _job(row)) for row in rows)
        return [found.get(job_id) for job_id in job_ids]

    def update_job(
        self, job_id: str, *, where_status: tuple[str, ...] = (), **changes: Unpack[JobChanges]
    ) -> bool:
        """Update columns, optionally only when the status is one of ``where_status``.

        Args:
            job_id: the job.
            where_status: allowed current statuses (empty: any).
            changes: new column values.

        Returns:
            True when a row changed.
        """
        fields = _encoded(dict(changes))
        sets = ", ".join(f"{k}=?" for k in fields)
        sql = f"UPDATE jobs SET {sets} WHERE id=?"  # noqa: S608
        params: list[Any] = [*fields.values(), job_id]
        if where_status:
            sql += f" AND status IN ({', '.join('?' for _ in where_status)})"
            params.extend(where_status)
        return self._db.execute(sql, params).rowcount > 0

    def list_jobs(
        self,
        *,
        owner: str | None,
        statuses: list[str],
        job_type: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[JobRecord], int]:
        """Jobs newest first, filtered before paging.

        Args:
            owner: only this user's jobs (None: everyone's).
            statuses: allowed statuses (empty: any).
            job_type: only this type.
            limit: page size.
            offset: rows to skip.

        Returns:
            ``(page, total)``.
        """
        where: list[str] = []
        params: list[Any] = []
        if owner is not None:
            where.append("owner=?")
            params.append(owner)
        if statuses:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        if job_type is not None:
            where.append("type=?")
            params.append(job_type)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = self._db.execute(f"SELECT COUNT(*) FROM jobs{clause}", params).fetchone()[0]  # noqa: S608
        rows = self._db.execute(
            f"SELECT * FROM jobs{clause} ORDER BY seq DESC LIMIT ? OFFSET ?",  # noqa: S608
            [*params, limit, offset],
        ).fetchall()
        return [_job(r) for r in rows], int(total)

    def release_leases(self) -> list[str]:
        """At start-up: jobs left ``processing`` by a crash become runnable again."""
        rows = self._db.execute("SELECT id FROM jobs WHERE status='processing'").fetchall()
        self._db.execute("UPDATE jobs SET leased=0 WHERE leased=1")
        return [r[0] for r in rows]

    def renew_claim(self, job_id: str) -> bool:
        """Whether the job is still leased and processing (one process: leases need no renewal).

        Args:
            job_id: the job.
        """
        row = self._db.execute(
            "SELECT 1 FROM jobs WHERE id=? AND leased=1 AND status='processing'", (job_id,)
        ).fetchone()
        return row is not None

    def release_claim(self, job_id: str) -> None:
        """Clear the lease of a job that stopped running (finished, failed or cancelled).

        Args:
            job_id: the job.
        """
        self._db.execute("UPDATE jobs SET leased=0 WHERE id=? AND status!='processing'", (job_id,))

    def claim_next(self, now: float) -> JobRecord | None:
        """Lease the next runnable job (interrupted ones first, then by priority and age).

        Args:
            now: the current time.
        """
        row = self._db.execute(
            "SELECT id, status FROM jobs WHERE status IN ('pending','processing') AND leased=0 "
            "ORDER BY status='processing' DESC, priority DESC, seq ASC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        self._db.execute(
            "UPDATE jobs SET leased=1, status='processing', runs=runs+1, updated_at=?, "
            "started_at=COALESCE(started_at, ?) WHERE id=? AND leased=0",
            (now, now, row[0]),
        )
        return self.get_job(row[0])

    def queue_ahead(self, job: JobRecord, now: float) -> float:
        """Estimated seconds of work queued or running ahead of ``job``.

        Args:
            job: a pending job.
            now: the current time.
        """
        pending = self._db.execute(
            "SELECT COALESCE(SUM(estimated_seconds), 0) FROM jobs WHERE status='pending' "
            "AND (priority>? OR (priority=? AND seq<?))",
            (job.priority, job.priority, job.seq),
        ).fetchone()[0]
        running = self._db.execute(
            "SELECT COALESCE(SUM(MAX(0, estimated_seconds - (? - started_at))), 0) "
            "FROM jobs WHERE status='processing' AND started_at IS NOT NULL",
            (now,),
        ).fetchone()[0]
        return float(pending) + float(running)

    def expired(self, now: float, grace: float) -> tuple[list[JobRecord], list[str]]:
        """Jobs whose result expired (file to delete) and jobs past the grace period (purge).

        Args:
            now: the current time.
            grace: seconds a job record outlives its ``expiresAt``.
        """
        files = self._db.execute(
            "SELECT * FROM jobs WHERE expires_at<? AND result_path IS NOT NULL", (now,)
        ).fetchall()
        gone = self._db.execute("SELECT id FROM jobs WHERE expires_at<?", (now - grace,)).fetchall()
        return [_job(r) for r in files], [str(r[0]) for r in gone]

    def delete_job(self, job_id: str) -> None:
        """Remove a job with its events and webhook deliveries (purge).

        Args:
            job_id: the job.
        """
        self._db.execute("DELETE FROM events WHERE job_id=?", (job_id,))
        self._db.execute("DELETE FROM feed WHERE job_id=?", (job_id,))
        self._db.execute("DELETE FROM deliveries WHERE job_id=?", (job_id,))
        self._db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    # ---- events ----------------------------------------------------------------
    def add_event(self, job_id: str, event: str, data: dict[str, Any], now: float) -> int:
        """Append to a job's event log; returns the new id (1, 2, 3, ... per job).

        Args:
            job_id: the job.
            event: ``status``, ``progress`` or ``complete``.
            data: the event's JSON data.
            now: the current time.
        """
        last = self.last_event_id(job_id)
        self._db.execute(
            "INSERT INTO events(job_id, id, event, data, created_at) VALUES (?, ?, ?, ?, ?)",
            (job_id, last + 1, event, json.dumps(data, separators=(",", ":")), now),
        )
        self._db.execute(
            "INSERT INTO feed(owner, type, job_id, event_id) SELECT owner, type, id, ? "
            "FROM jobs WHERE id=?",
            (last + 1, job_id),
        )
        return last + 1

    def last_event_id(self, job_id: str) -> int:
        """The newest event id of the job (0 when none).

        Args:
            job_id: the job.
        """
        row = self._db.execute("SELECT MAX(id) FROM events WHERE job_id=?", (job_id,)).fetchone()
        return int(row[0] or 0)

    def events_after(self, job_id: str, after: int) -> list[tuple[int, str, str]]:
        """``(id, event, data)`` of the events after ``after``, oldest first.

        Args:
            job_id: the job.
            after: the last id the client has.
        """
        rows = self._db.execute(
            "SELECT id, event, data FROM events WHERE job_id=? AND id>? ORDER BY id",
            (job_id, after),
        ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def complete_event_id(self, job_id: str) -> int | None:
        """The id of the job's ``complete`` event, if it has one.

        Args:
            job_id: the job.
        """
        row = self._db.execute(
            "SELECT MIN(id) FROM events WHERE job_id=? AND event='complete'", (job_id,)
        ).fetchone()
        return None if row[0] is None else int(row[0])


def _encoded(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields with the JSON columns encoded."""
    for col in _JSON_COLS:
        if col in fields and fields[col] is not None:
            fields[col] = json.dumps(fields[col], separators=(",", ":"))
    return fields


def _job(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    for col in _JSON_COLS:
        if data[col] is not None:
            data[col] = json.loads(data[col])
    return JobRecord(**data)


if TYPE_CHECKING:  # mypy checks here that the SQLite store implements the whole interface
    _conforms: type[JobStore] = SqliteStore
