"""``Deadline``: one overall time limit, made once and carried down unchanged.

A caller's ``timeout=`` (or the CLI's ``--timeout``) becomes a ``Deadline`` at
the edge of the SDK, once; every flow, retry and request below it reads the
same value. Nothing converts it back to "seconds left" except at the moment a
decision needs that number (``left``), so a wait that starts after a submit
under the same deadline simply continues it.

Pure: the monotonic clock's reading is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgumentError

__all__ = ["NO_DEADLINE", "Deadline", "check_timeout"]


def check_timeout(timeout: Any, *, name: str = "timeout") -> float | None:
    """Validate a timeout given in seconds; None means "no limit".

    Args:
        timeout: None, or a finite number of seconds ``>= 0``.
        name: how the argument is called in the error message.

    Raises:
        InvalidArgumentError: (a ``ValueError``) for anything else: NaN, an
            infinity, a negative number, a string, a bool.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidArgumentError(
            f"{name} must be a number of seconds or None, got {type(timeout).__name__}"
        )
    if not math.isfinite(timeout) or timeout < 0:
        raise InvalidArgumentError(f"{name} must be a finite number of seconds >= 0, got {timeout}")
    return float(timeout)


@dataclass(frozen=True)
class Deadline:
    """The instant (monotonic clock) by which an operation must end, or none.

    Args:
        at: the monotonic-clock instant, or None for no deadline.
        seconds: the timeout it was made from (for messages), or None.
    """

    at: float | None = None
    seconds: float | None = None

    @classmethod
    def after(cls, timeout: Any, now: float) -> Deadline:
        """The deadline ``timeout`` seconds from ``now`` (None: no deadline).

        Args:
            timeout: seconds (validated by ``check_timeout``), or None.
            now: the monotonic clock's current reading.
        """
        seconds = check_timeout(timeout)
        return cls() if seconds is None else cls(now + seconds, seconds)

    @property
    def bounded(self) -> bool:
        """True when there is a deadline at all."""
        return self.at is not None

    def left(self, now: float) -> float | None:
        """Seconds left (negative once passed), or None without a deadline.

        Args:
            now: the monotonic clock's current reading.
        """
        return None if self.at is None else self.at - now

    def passed(self, now: float) -> bool:
        """True once the deadline has been reached.

        Args:
            now: the monotonic clock's current reading.
        """
        return self.at is not None and now >= self.at

    def cap(self, seconds: float, now: float) -> float:
        """``seconds`` cut so that it ends by the deadline (never negative).

        Args:
            seconds: a duration, e.g. a pause before the next try.
            now: the monotonic clock's current reading.
        """
        left = self.left(now)
        return max(0.0, seconds if left is None else min(seconds, left))


NO_DEADLINE = Deadline()
