"""Webhook deliveries in the SQLite store (the secret is stored, never shown)."""

from __future__ import annotations

import sqlite3
from typing import Unpack

from ..base import Delivery, DeliveryChanges, NewDelivery

__all__ = ["SqliteDeliveries"]


class SqliteDeliveries:
    """Delivery methods of the SQLite store (mixin; uses ``self._db``)."""

    _db: sqlite3.Connection

    def add_delivery(self, delivery_id: str, delivery: NewDelivery, now: float) -> Delivery:
        """Store a pending delivery.

        Args:
            delivery_id: its id.
            delivery: what to deliver.
            now: the creation time.
        """
        self._db.execute(
            "INSERT INTO deliveries(id, job_id, owner, url, secret, event, payload, state, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (
                delivery_id,
                delivery.job_id,
                delivery.owner,
                delivery.url,
                delivery.secret,
                delivery.event,
                delivery.payload,
                now,
                now,
            ),
        )
        made = self.get_delivery(delivery_id)
        assert made is not None
        return made

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """The delivery, or None.

        Args:
            delivery_id: its id.
        """
        row = self._db.execute("SELECT * FROM deliveries WHERE id=?", (delivery_id,)).fetchone()
        return None if row is None else Delivery(**dict(row))

    def update_delivery(self, delivery_id: str, **changes: Unpack[DeliveryChanges]) -> None:
        """Record an attempt's outcome.

        Args:
            delivery_id: the delivery.
            changes: new column values.
        """
        sets = ", ".join(f"{k}=?" for k in changes)
        self._db.execute(
            f"UPDATE deliveries SET {sets} WHERE id=?",  # noqa: S608
            (*changes.values(), delivery_id),
        )

    def deliveries(self, state: str) -> list[Delivery]:
        """Deliveries in a state, oldest first.

        Args:
            state: ``pending``, ``delivered`` or ``failed``.
        """
        rows = self._db.execute(
            "SELECT * FROM deliveries WHERE state=? ORDER BY created_at", (state,)
        ).fetchall()
        return [Delivery(**dict(r)) for r in rows]
