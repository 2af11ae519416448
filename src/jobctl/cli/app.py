"""The console script ``jobctl`` (``jobctl.cli.app:main``): a thin door to ``jobctl.cli.root``.

``jobctl --version`` is answered here without importing Typer, rich or the SDK
(it is what scripts call to check the tool is there), and so is help, from the
text generated from the app (``helptext.py``); everything else is handed to the
Typer application in ``root.py``, except the plain forms of ``jobctl status``
(``oneshot.py``), which are run without Typer. ``app`` and ``get_command`` are
re-exported lazily for tests and tools that import them from here.
"""

from __future__ import annotations

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
        from .._version import __version__

        sys.stdout.write(f"jobctl {__version__}\n")
        return 0
    if not args or "--help" in args or "-h" in args:
        from .helptext import lookup

        help_text = lookup(args)
        if help_text is not None:
            sys.stdout.write(help_text)
            sys.stdout.flush()
            return 0
    if "httpx" not in sys.modules:
        # httpx/__init__ imports its own command line (httpx._main: click, rich, pygments;
        # about 40 ms) and falls back to a stub when that import fails; jobctl never uses it.
        sys.modules["httpx._main"] = None  # type: ignore[assignment]
    from .oneshot import run_fast

    code = run_fast(args)
    if code is not None:
        return code
    from .root import main as run

    return run(args)


def __getattr__(name: str) -> Any:
    """``app`` and ``get_command`` come from ``root`` on first use."""
    if name in ("app", "get_command"):
        from . import root

        return getattr(root, name)
    raise AttributeError(f"module 'jobctl.cli.app' has no attribute {name!r}")
