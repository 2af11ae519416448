"""Webhook deliveries in the store (the secret is stored, never shown)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = ["Delivery", "DeliveryStore"]


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery (the secret stays in the store; it is never shown).

    Args:
        id: the delivery id (sent as ``X-Webhook-Delivery`` and ``webhook-id``).
        state: ``pending``, ``delivered`` or ``failed``.
    """

    id: str
    job_id: str
    owner: str
    url: str
    secret: str | None
    event: str
    payload: bytes
    state: str
    attempts: int
    last_error: str | None
    last_status: int | None
    created_at: float
    updated_at: float

    def __repr__(self) -> str:
        return f"Delivery(id={self.id!r}, job_id={self.job_id!r}, state={self.state!r})"


class DeliveryStore:
    """Delivery methods of the Store (mixin; uses ``self._db``)."""

    _db: sqlite3.Connection

    def add_delivery(self, **fields: Any) -> Delivery:
        """Store a delivery to make.

        Args:
            fields: id, job_id, owner, url, secret, event, payload, created_at.
        """
        now = fields["created_at"]
        self._db.execute(
            "INSERT INTO deliveries(id, job_id, owner, url, secret, event, payload, state, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            (
                fields["id"],
                fields["job_id"],
                fields["owner"],
                fields["url"],
                fields["secret"],
                fields["event"],
                fields["payload"],
                now,
                now,
            ),
        )
        delivery = self.get_delivery(fields["id"])
        assert delivery is not None
        return delivery

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """The delivery, or None.

        Args:
            delivery_id: its id.
        """
        row = self._db.execute("SELECT * FROM deliveries WHERE id=?", (delivery_id,)).fetchone()
        return None if row is None else Delivery(**dict(row))

    def update_delivery(self, delivery_id: str, **fields: Any) -> None:
        """Record an attempt's outcome.

        Args:
            delivery_id: the delivery.
            fields: new column values.
        """
        sets = ", ".join(f"{k}=?" for k in fields)
        self._db.execute(
            f"UPDATE deliveries SET {sets} WHERE id=?",  # noqa: S608
            (*fields.values(), delivery_id),
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
