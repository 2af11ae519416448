"""What the SDK tells its caller besides results: the connection was lost, or is back.

A flow ``Emit``s a ``ConnectionEvent`` whenever it decides to retry because the
server could not be reached or refused for a while (no answer, a reset, ``429``,
``5xx``), and again once an answer comes after such failures. A waiting caller
(``wait(on_connection=...)``, the CLI's progress lines) can then say "connection
lost, retrying for up to N s" instead of looking as if the job were progressing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConnectionEvent", "Outages"]


@dataclass(frozen=True)
class ConnectionEvent:
    """The server could not be reached (``ok`` False, a retry follows), or can again.

    Args:
        ok: True once an answer came after failures.
        reason: what failed, in a few words (empty when ``ok``).
        retry_in: seconds until the next try (None when ``ok``).
        deadline_left: seconds left before the caller's deadline then (None: no deadline).
    """

    ok: bool
    reason: str = ""
    retry_in: float | None = None
    deadline_left: float | None = None


class Outages:
    """What a caller hears of the emitted events: every loss, and one return per outage.

    Several layers may see the same return (a request's retry that got through, and
    the wait that had given up a poll), so "ok" is passed on only when a loss came
    before it.
    """

    def __init__(self) -> None:
        self.down = False

    def feed(self, event: ConnectionEvent) -> ConnectionEvent | None:
        """The event to pass on, or None for a return nobody heard the loss of.

        Args:
            event: what a flow emitted.
        """
        if not event.ok:
            self.down = True
            return event
        if self.down:
            self.down = False
            return event
        return None
