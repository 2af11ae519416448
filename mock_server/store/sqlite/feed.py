"""The feed in the SQLite store: one sequence across every job's events.

``add_event`` (in ``store.py``) appends a row to ``feed`` for each event it logs,
in the same synchronous step: ``seq`` is an ``AUTOINCREMENT`` (never reused, so a
position a client holds never comes to mean another event), ``owner`` and ``type``
are copied from the job so a stream of one user's jobs (of one type) is one indexed
range scan. Rows point into ``events`` and are deleted with their job (purge), so
nothing is ever trimmed from under a client: the floor is always 0.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..base import FeedEvent

__all__ = ["SqliteFeed", "chunks"]


def chunks(items: list[str], size: int = 500) -> list[list[str]]:
    """``items`` cut into lists of at most ``size`` (SQLite limits the ``?`` of one statement).

    Args:
        items: the values.
        size: the most per list.
    """
    return [items[i : i + size] for i in range(0, len(items), size)]


class SqliteFeed:
    """Feed methods of the SQLite store (mixin; uses ``self._db``)."""

    _db: sqlite3.Connection

    def feed_after(self, owner: str | None, after: int, limit: int) -> list[FeedEvent]:
        """Events of the owner's jobs (None: everyone's) after feed position ``after``.

        Args:
            owner: whose jobs.
            after: the last position the client has.
            limit: at most this many.
        """
        sql = (
            "SELECT f.seq, f.job_id, f.type, e.id, e.event, e.data FROM feed f "
            "JOIN events e ON e.job_id=f.job_id AND e.id=f.event_id WHERE f.seq>?"
        )
        params: list[Any] = [after]
        if owner is not None:
            sql += " AND f.owner=?"
            params.append(owner)
        rows = self._db.execute(sql + " ORDER BY f.seq LIMIT ?", [*params, limit]).fetchall()
        return [FeedEvent(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5]) for r in rows]

    def feed_bounds(self, owner: str | None) -> tuple[int, int]:
        """``(0, last)``: nothing is trimmed here (a purged job's events go with the job).

        Args:
            owner: unused (one sequence for every owner).
        """
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='feed'").fetchone()
        return 0, int(row[0]) if row is not None else 0

    def feed_heads(self, job_ids: list[str]) -> dict[str, int]:
        """The feed position of each job's newest event.

        Args:
            job_ids: the jobs.
        """
        heads: dict[str, int] = {}
        for chunk in chunks(job_ids):
            marks = ", ".join("?" for _ in chunk)
            rows = self._db.execute(
                f"SELECT job_id, MAX(seq) FROM feed WHERE job_id IN ({marks}) GROUP BY job_id",  # noqa: S608
                chunk,
            )
            heads.update((str(r[0]), int(r[1])) for r in rows)
        return heads
