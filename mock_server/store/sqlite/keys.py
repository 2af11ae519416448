"""Idempotency keys and job names in the SQLite store (per user).

Reserving a key is one ``INSERT OR IGNORE`` of the key row before any work is
done, so of two concurrent requests with one key exactly one gets to create a
job; the other sees the row in flight (409), or done (replay / 422). Keys live
24 h, with an in-flight state for the 409. A name (an Azure resource) is one row
pointing at a job, changed by one conditional statement (a compare-and-set).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..base import IDEMPOTENCY_TTL, IN_FLIGHT_STALE, KeyState, NameRecord

__all__ = ["SqliteKeys"]


class SqliteKeys:
    """Idempotency-key and name methods of the SQLite store (mixin; uses ``self._db``)."""

    _db: sqlite3.Connection

    def reserve_key(self, owner: str, key: str, fingerprint: str, now: float) -> KeyState:
        """Reserve ``key`` for this request, or say why not (atomic: one statement decides).

        Args:
            owner: the user (keys are per user).
            key: the Idempotency-Key.
            fingerprint: hash of the canonical request.
            now: the current time.
        """
        self._db.execute(
            "DELETE FROM idempotency WHERE owner=? AND key=? AND (created_at<? OR "
            "(state='in_flight' AND created_at<?))",
            (owner, key, now - IDEMPOTENCY_TTL, now - IN_FLIGHT_STALE),
        )
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO idempotency(owner, key, fingerprint, state, created_at) "
            "VALUES (?, ?, ?, 'in_flight', ?)",
            (owner, key, fingerprint, now),
        ).rowcount
        if inserted:
            return KeyState("reserved")
        row = self._db.execute(
            "SELECT * FROM idempotency WHERE owner=? AND key=?", (owner, key)
        ).fetchone()
        if row["state"] == "in_flight":
            return KeyState("in_flight")
        if row["fingerprint"] != fingerprint:
            return KeyState("mismatch")
        return KeyState("replay", row["job_id"], json.loads(row["response"]))

    def complete_key(self, owner: str, key: str, job_id: str, response: dict[str, Any]) -> None:
        """Remember the response made under a reserved key.

        Args:
            owner: the user.
            key: the key.
            job_id: the job created.
            response: the body to replay.
        """
        self._db.execute(
            "UPDATE idempotency SET state='done', job_id=?, response=? WHERE owner=? AND key=?",
            (job_id, json.dumps(response), owner, key),
        )

    def release_key(self, owner: str, key: str) -> None:
        """Forget a reservation whose request failed before making a job.

        Args:
            owner: the user.
            key: the key.
        """
        self._db.execute(
            "DELETE FROM idempotency WHERE owner=? AND key=? AND state='in_flight'", (owner, key)
        )

    def purge_keys(self, now: float) -> int:
        """Drop keys older than 24 h and reservations abandoned by a crash.

        Args:
            now: the current time.
        """
        return self._db.execute(
            "DELETE FROM idempotency WHERE created_at<? OR (state='in_flight' AND created_at<?)",
            (now - IDEMPOTENCY_TTL, now - IN_FLIGHT_STALE),
        ).rowcount

    def drop_in_flight_keys(self) -> None:
        """At start-up: no request survives a restart, so no key is in flight."""
        self._db.execute("DELETE FROM idempotency WHERE state='in_flight'")

    # ---- names ---------------------------------------------------------------------
    def point_name(
        self, owner: str, name: str, job_id: str, note: str, now: float, *, was: str | None
    ) -> bool:
        """Point ``name`` at ``job_id`` if it points at ``was`` now (None: it is free).

        Args:
            owner: the user.
            name: the name.
            job_id: the job it should point at.
            note: stored with it.
            now: the current time.
            was: the job it must point at now, or None for a free name.
        """
        if was is None:
            sql = (
                "INSERT OR IGNORE INTO names(owner, name, job_id, note, updated_at) "
                "VALUES (?, ?, ?, ?, ?)"
            )
            return self._db.execute(sql, (owner, name, job_id, note, now)).rowcount == 1
        sql = (
            "UPDATE names SET job_id=?, note=?, updated_at=? WHERE owner=? AND name=? AND job_id=?"
        )
        return self._db.execute(sql, (job_id, note, now, owner, name, was)).rowcount == 1

    def get_name(self, owner: str, name: str) -> NameRecord | None:
        """Where the name points, or None.

        Args:
            owner: the user.
            name: the name.
        """
        row = self._db.execute(
            "SELECT job_id, note, updated_at FROM names WHERE owner=? AND name=?", (owner, name)
        ).fetchone()
        return None if row is None else NameRecord(row[0], row[1], row[2])

    def drop_name(self, owner: str, name: str, job_id: str) -> bool:
        """Free the name if it points at ``job_id``.

        Args:
            owner: the user.
            name: the name.
            job_id: the job it must point at.
        """
        sql = "DELETE FROM names WHERE owner=? AND name=? AND job_id=?"
        return self._db.execute(sql, (owner, name, job_id)).rowcount == 1
