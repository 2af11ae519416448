"""How the doctor's verdicts are shown: a table at a terminal, plain lines in logs, JSON.

Everything the server said is escaped (``text.clean``) before it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..text import clean
from .checks import Check

__all__ = ["as_json", "plain_lines", "summary", "table"]

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skipped": "SKIP"}


def summary(checks: Sequence[Check]) -> str:
    """``12 pass, 1 warn, 1 fail, 0 skipped``."""
    counts = {k: sum(1 for c in checks if c.outcome == k) for k in _MARK}
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def plain_lines(checks: Sequence[Check]) -> list[str]:
    """One line a check: ``FAIL idempotency (Idempotency: ...): why; seen: ...``."""
    lines = []
    for c in checks:
        why = f": {clean(c.why)}" if c.why else ""
        seen = f" [{clean('; '.join(c.seen))}]" if c.seen else ""
        lines.append(f"{_MARK[c.outcome]} {c.name} ({c.clause}){why}{seen}")
    return lines


def table(checks: Sequence[Check]) -> Any:
    """A rich ``Table`` of the checks (rich is imported only here: terminals only)."""
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=None, show_lines=False, expand=True)
    for header in ("check", "clause", "outcome", "seen"):
        grid.add_column(header, overflow="fold")
    style = {"pass": "green", "warn": "yellow", "fail": "bold red", "skipped": "dim"}
    for c in checks:
        outcome = Text(c.outcome + (f": {clean(c.why)}" if c.why else ""), style=style[c.outcome])
        grid.add_row(Text(c.name), Text(c.clause), outcome, Text(clean("; ".join(c.seen))))
    return grid


def as_json(url: str, checks: Sequence[Check]) -> dict[str, Any]:
    """The ``--json`` document."""
    return {
        "url": url,
        "ok": not any(c.outcome == "fail" for c in checks),
        "summary": {k: sum(1 for c in checks if c.outcome == k) for k in _MARK},
        "checks": [
            {
                "name": c.name,
                "clause": c.clause,
                "outcome": c.outcome,
                "why": c.why,
                "seen": c.seen,
                "requests": c.requests,
            }
            for c in checks
        ],
    }
