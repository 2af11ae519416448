"""IOStreams: where jobctl writes, and what kind of output each stream can take.

Made once per invocation and passed down (the gh pattern). ``IOStreams.system()``
looks at the real process (TTYs, ``NO_COLOR``, ``CI``, ``TERM``); ``IOStreams.test()``
renders into ``StringIO`` consoles for tests. stdout carries only results; every
hint, progress line, warning and error goes to stderr.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["IOStreams", "resolve_progress_mode"]


def resolve_progress_mode(requested: str, *, stderr_tty: bool, env: Mapping[str, str]) -> str:
    """Turn ``auto|bar|plain|none`` into what to draw: ``bar``, ``plain`` or ``none``.

    ``auto`` is a live bar only on a TTY that is not a CI runner (``CI`` unset)
    and not a dumb terminal (``TERM=dumb``); otherwise plain lines.

    Args:
        requested: the mode asked for.
        stderr_tty: whether stderr is a terminal.
        env: the environment.
    """
    if requested in ("bar", "plain", "none"):
        return requested
    if not stderr_tty or env.get("CI") or env.get("TERM") == "dumb":
        return "plain"
    return "bar"


@dataclass
class IOStreams:
    """The streams of one jobctl run.

    Args:
        stdout: the text stream for results.
        stderr: the text stream for everything else.
        stdout_binary: the byte stream for result bytes (``-o -``).
        stdin: where ``-i -`` reads.
        stdout_tty: whether stdout is a terminal.
        stderr_tty: whether stderr is a terminal.
        color: whether colours and styles may be used (False with ``NO_COLOR``).
        env: the environment (for ``CI`` / ``TERM``).
    """

    stdout: TextIO
    stderr: TextIO
    stdout_binary: BinaryIO
    stdin: TextIO
    stdout_tty: bool = False
    stderr_tty: bool = False
    color: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    _out: Console | None = field(default=None, init=False, repr=False)
    _err: Console | None = field(default=None, init=False, repr=False)

    @classmethod
    def system(cls) -> IOStreams:
        """The real process streams."""
        env = dict(os.environ)
        out_tty = _isatty(sys.stdout)
        err_tty = _isatty(sys.stderr)
        color = "NO_COLOR" not in env and env.get("TERM") != "dumb"
        binary = getattr(sys.stdout, "buffer", None) or io.BytesIO()
        return cls(sys.stdout, sys.stderr, binary, sys.stdin, out_tty, err_tty, color, env)

    @classmethod
    def test(
        cls,
        *,
        stdin: str = "",
        tty: bool = False,
        color: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> IOStreams:
        """StringIO streams for tests (read them back with ``out_text`` / ``err_text``).

        Args:
            stdin: what ``-i -`` will read.
            tty: pretend both streams are terminals.
            color: allow colours.
            env: the environment to consult.
        """
        return cls(
            io.StringIO(),
            io.StringIO(),
            io.BytesIO(),
            io.StringIO(stdin),
            tty,
            tty,
            color,
            dict(env or {}),
        )

    def out_text(self) -> str:
        """What was written to stdout (test streams only)."""
        return self.stdout.getvalue() if isinstance(self.stdout, io.StringIO) else ""

    def err_text(self) -> str:
        """What was written to stderr (test streams only)."""
        return self.stderr.getvalue() if isinstance(self.stderr, io.StringIO) else ""

    @property
    def out(self) -> Console:
        """A rich Console on stdout (no highlighting; colour only on a TTY)."""
        if self._out is None:
            self._out = self._console(self.stdout, self.stdout_tty)
        return self._out

    @property
    def err(self) -> Console:
        """A rich Console on stderr (no highlighting; colour only on a TTY)."""
        if self._err is None:
            self._err = self._console(self.stderr, self.stderr_tty)
        return self._err

    def _console(self, file: TextIO, tty: bool) -> Console:
        from rich.console import Console

        return Console(
            file=file,
            force_terminal=tty,
            no_color=not self.color,
            color_system="auto" if (tty and self.color) else None,
            highlight=False,
            soft_wrap=True,
            emoji=False,
            width=None if tty else 200,
        )

    def write_out(self, text: str) -> None:
        """Write one line of plain text to stdout and flush (no markup, no wrapping).

        Args:
            text: the line, without its newline.
        """
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def write_err(self, text: str) -> None:
        """Write one line of plain text to stderr and flush.

        Args:
            text: the line, without its newline.
        """
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def progress_mode(self, requested: str) -> str:
        """What progress to draw for the requested mode (see ``resolve_progress_mode``).

        Args:
            requested: ``auto``, ``bar``, ``plain`` or ``none``.
        """
        return resolve_progress_mode(requested, stderr_tty=self.stderr_tty, env=self.env)


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):
        return False
