"""The console script ``jobctl`` (``jobctl.cli.app:main``): a thin door to ``jobctl.cli.root``.

Every command line is parsed by the one Typer application in ``root.py``. Two
things happen here first:

- ``jobctl --version`` alone is answered without importing Typer (it is what
  scripts call to check the tool is there). ``--version`` is an eager option of
  the root: click would run its callback before anything else and exit, so for
  exactly ``["--version"]`` this is the same answer, not a second grammar (a
  test compares the two).
- two process-wide settings for the jobctl process only (the SDK used as a
  library is not affected): httpx's own command line (``httpx._main``: click,
  rich, pygments; about 40 ms) is kept out of the import of httpx, which falls
  back to a stub when it is missing; and pydantic's plugin discovery (a scan of
  every installed distribution's entry points when the first validator is
  built, 40 ms in a full environment) is switched off unless
  ``PYDANTIC_DISABLE_PLUGINS`` is set. Typer validates option values with
  pydantic, and jobctl's models have no use for plugins.

``app`` and ``get_command`` are re-exported lazily for tests and tools that
import them from here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run jobctl with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    Args:
        argv: the arguments, without the program name.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        from .._version import version_text

        sys.stdout.write(version_text())
        return 0
    if "httpx" not in sys.modules:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from .root import main as run

    return run(args)


def __getattr__(name: str) -> Any:
    """``app`` and ``get_command`` come from ``root`` on first use."""
    if name in ("app", "get_command"):
        from . import root

        return getattr(root, name)
    raise AttributeError(f"module 'jobctl.cli.app' has no attribute {name!r}")
