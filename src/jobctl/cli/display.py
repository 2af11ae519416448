"""The progress display's interface, ``NullProgress``: it shows nothing.

``progress.PlainProgress`` and ``live.LiveProgress`` implement it (and
``progress.make_job_progress`` picks one); it lives apart so that neither of
those modules imports the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .. import ConnectionEvent
    from ..models import Progress

__all__ = ["NullProgress"]


class NullProgress:
    """Shows nothing."""

    def add(self, job_id: str, label: str | None = None) -> None:
        """Start showing a job (ignored).

        Args:
            job_id: the job.
            label: a short label (e.g. the job type); given again later, it fills in a
                row that had none.
        """

    def update(self, job_id: str, status: object, progress: Progress | None) -> None:
        """A job's latest state (ignored).

        Args:
            job_id: the job.
            status: its status.
            progress: its progress.
        """

    def done(self, job_id: str, status: object, reason: str | None = None) -> None:
        """A job reached its end (ignored).

        Args:
            job_id: the job.
            status: its final status (or the last one seen).
            reason: why it failed or stopped (``code: message``), raw server text.
        """

    def connection(self, job_id: str, event: ConnectionEvent) -> None:
        """Following a job, the server could not be reached, or can again (ignored).

        Args:
            job_id: the job whose follower heard it.
            event: the SDK's ``ConnectionEvent`` (a loss, with the next try; or a return).
        """

    def tick(self) -> None:
        """Called about twice a second (ignored)."""

    def close(self) -> None:
        """Stop showing anything (ignored)."""
