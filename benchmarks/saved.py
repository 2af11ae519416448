"""Runs saved as JSON: written by ``--save``, rendered by ``--render``, extended by ``--merge``.

A saved run is ``{"rows", "env", "settings", "command", "minutes"}`` plus, once
rows measured later were merged into it, ``"parts"``: one entry per later run
(its row ids, environment, settings, command and duration), so the page states
when and where each row was measured. Merging replaces the base run's rows of
the same ids and keeps the table in the rows' order.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import Row, Settings
from .report import PartRun, markdown

__all__ = ["load_run", "merge_runs", "render_run", "save_run", "saved_run"]


def saved_run(
    rows: Sequence[Row], env: dict[str, str], settings: Settings, command: str, minutes: float
) -> dict[str, Any]:
    """A run as a JSON-ready dict.

    Args:
        rows: its results.
        env: its ``environment()``.
        settings: its sizes.
        command: its command line.
        minutes: how long it took.
    """
    return {
        "rows": [dataclasses.asdict(r) for r in rows],
        "env": env,
        "settings": {**dataclasses.asdict(settings), "workdir": ""},
        "command": command,
        "minutes": minutes,
    }


def save_run(run: dict[str, Any], path: Path) -> None:
    """Write a saved run as JSON.

    Args:
        run: from ``saved_run`` or ``merge_runs``.
        path: the file.
    """
    path.write_text(json.dumps(run, indent=1, ensure_ascii=False) + "\n", "utf-8")


def load_run(path: Path) -> dict[str, Any]:
    """Read a run saved with ``--save``; ValueError (one line) when it isn't one.

    Args:
        path: the file.
    """
    try:
        run = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the saved run {path}: {exc}") from None
    if not isinstance(run, dict) or not {"rows", "env", "settings", "command"} <= run.keys():
        raise ValueError(f"{path} is not a run saved with --save")
    return run


def merge_runs(base: dict[str, Any], part: dict[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """The base run with the part's rows in place of its rows of the same ids.

    Args:
        base: the saved run to extend (not modified).
        part: the run that measured some rows again (or for the first time).
        order: the row ids in table order.
    """
    names = [n for n in order if any(r["row"] == n for r in part["rows"])]
    rank = {n: i for i, n in enumerate(order)}
    rows = [r for r in base["rows"] if r["row"] not in names] + list(part["rows"])
    rows.sort(key=lambda r: rank.get(r["row"], len(rank)))
    # An earlier part keeps the rows it measured that this one does not measure again.
    earlier = [
        {**p, "rows": [n for n in p["rows"] if n not in names]}
        for p in base.get("parts", [])
        if set(p["rows"]) - set(names)
    ]
    entry = {k: part[k] for k in ("env", "settings", "command", "minutes")}
    return {**base, "rows": rows, "parts": [*earlier, {"rows": names, **entry}]}


def _settings(raw: dict[str, Any]) -> Settings:
    values = dict(raw, workdir=Path("."))
    values["lengths"] = tuple(values["lengths"])
    values.setdefault("mux_jobs", 0)  # saved before multiplexed streams were measured
    values.setdefault("dialect_jobs", 0)  # saved before the dialects row existed
    values.setdefault("many_jobs", 0)  # saved before wait_many was measured
    return Settings(**values)


def render_run(run: dict[str, Any], rendered_by: str | None) -> tuple[list[Row], str]:
    """A saved run's rows and its page.

    Args:
        run: the saved run.
        rendered_by: the command writing the page, if not the run that measured it.
    """
    rows = [Row(**r) for r in run["rows"]]
    parts = [
        PartRun(tuple(p["rows"]), p["env"], _settings(p["settings"]), p["command"], p["minutes"])
        for p in run.get("parts", [])
    ]
    page = markdown(
        rows,
        run["env"],
        _settings(run["settings"]),
        run["command"],
        float(run.get("minutes", 0.0)),
        rendered_by,
        parts,
    )
    return rows, page
