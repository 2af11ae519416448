"""Ctrl-C and SIGTERM during a wait: stop waiting cleanly instead of dying mid-request.

``SignalTrap`` (used inside a running event loop) turns SIGINT or SIGTERM into a
cancellation of the current task and remembers which signal it was, so the
waiter can print how to resume, cancel jobs when asked to, and exit with 130
(SIGINT) or 143 (SIGTERM). A second signal while that cleanup runs is not
trapped any more: the default behaviour applies (SIGINT raises KeyboardInterrupt).
"""

from __future__ import annotations

import contextlib
import signal
from types import TracebackType
from typing import TYPE_CHECKING

from .exitcodes import ExitCode

if TYPE_CHECKING:
    import asyncio

__all__ = ["SignalTrap", "exit_code_for_signal", "signal_name"]


def exit_code_for_signal(signum: int) -> ExitCode:
    """130 for SIGINT, 143 for SIGTERM.

    Args:
        signum: the signal number.
    """
    return ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED


def signal_name(signum: int) -> str:
    """``Ctrl-C`` for SIGINT, else the signal's name.

    Args:
        signum: the signal number.
    """
    if signum == signal.SIGINT:
        return "Ctrl-C"
    return signal.Signals(signum).name


class SignalTrap:
    """Within ``with``: SIGINT/SIGTERM cancel the current asyncio task; ``signum`` says which.

    Args:
        signals: the signals to trap.
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = signals
        self.signum: int | None = None
        self._installed: list[int] = []
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _fire(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
            if self._task is not None:
                self._task.cancel()

    def __enter__(self) -> SignalTrap:
        import asyncio

        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        for signum in self.signals:
            try:
                self._loop.add_signal_handler(signum, self._fire, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._installed.append(signum)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Give the signals back to their default handlers (idempotent)."""
        if self._loop is not None:
            for signum in self._installed:
                with contextlib.suppress(Exception):
                    self._loop.remove_signal_handler(signum)
        self._installed.clear()

    def absorb(self) -> bool:
        """After a ``CancelledError``: True (and the task un-cancelled) if a signal caused it."""
        if self.signum is None:
            return False
        if self._task is not None:
            self._task.uncancel()
        self.release()
        return True
