"""Idempotency keys in the SQLite store: per user, 24 h, with an in-flight state for the 409.

Reserving a key is one ``INSERT OR IGNORE`` of the key row before any work is
done, so of two concurrent requests with one key exactly one gets to create a
job; the other sees the row in flight (409), or done (replay / 422).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..base import IDEMPOTENCY_TTL, IN_FLIGHT_STALE, KeyState

__all__ = ["SqliteKeys"]


class SqliteKeys:
    """Idempotency-key methods of the SQLite store (mixin; uses ``self._db``)."""

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
