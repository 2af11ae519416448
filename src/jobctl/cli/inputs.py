"""Turning command-line words into values: job input (``-i``, ``-p``), durations, JOB refs.

All pure except for reading ``@FILE`` / ``-``; every bad value raises ``CliError``
(exit 2) with one line naming the flag, and for JSON the line and column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ..config import ConfigError, parse_duration
from .exitcodes import CliError, ExitCode

__all__ = ["parse_input", "parse_param", "parse_timeout", "resolve_job_refs"]


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python's json accepts them by default.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e309: valid JSON syntax, but no JSON encoder can send it back
        raise ValueError(f"{text} is out of range for a number")
    return value


def _strict_loads(text: str) -> Any:
    """``json.loads`` as RFC 8259 has it: no NaN/Infinity; absurd nesting is an error."""
    try:
        return json.loads(text, parse_constant=_no_constants, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _load_json(text: str, source: str) -> Any:
    try:
        return _strict_loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"invalid JSON in {source} at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:
        raise CliError(f"invalid JSON in {source}: {exc}") from None


def parse_param(item: str) -> tuple[str, Any]:
    """Parse one ``-p KEY=VALUE``: the value as JSON when it parses, else the string.

    Args:
        item: the word after ``-p``.
    """
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise CliError(f"invalid -p {item!r}: use KEY=VALUE, e.g. -p pages=5")
    try:
        value: Any = _strict_loads(raw)
    except ValueError:
        value = raw
    return key, value


def parse_input(raw: str | None, params: Sequence[str] = (), *, stdin: TextIO | None = None) -> Any:
    """Build a job's input from ``-i JSON|@FILE|-`` and ``-p KEY=VALUE`` pairs.

    ``-p`` pairs are merged over the ``-i`` object (an empty object if no ``-i``).

    Args:
        raw: the ``-i`` value, or None.
        params: the ``-p`` values.
        stdin: where ``-i -`` reads.
    """
    value: Any = None
    if raw is not None:
        if raw == "-":
            if stdin is None:
                raise CliError("-i -: no standard input to read")
            value = _load_json(stdin.read(), "-i (stdin)")
        elif raw.startswith("@"):
            path = Path(raw[1:]).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise CliError(f"cannot read -i file {path}: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise CliError(f"-i file {path} is not UTF-8 text") from None
            value = _load_json(text, f"-i file {path}")
        else:
            value = _load_json(raw, "-i")
    if params:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise CliError("-p KEY=VALUE needs the -i input to be a JSON object")
        for item in params:
            key, item_value = parse_param(item)
            value[key] = item_value
    return {} if value is None else value


def parse_timeout(text: str | None, default: float | None = None) -> float | None:
    """Parse ``--timeout DUR`` (``90``, ``90s``, ``15m``, ``2h``); None means no limit.

    Args:
        text: the flag's value, or None.
        default: the configured default (``timeout`` in the config file).
    """
    if text is None:
        return default
    try:
        return parse_duration(text)
    except ConfigError as exc:
        raise CliError(f"--timeout: {exc}") from None


def resolve_job_refs(jobs: Sequence[str], *, last: bool, newest: str | None) -> list[str]:
    """The JOB arguments, with ``--last`` standing for the newest job in the ledger.

    Args:
        jobs: ids or status URLs as given.
        last: whether ``--last`` was given.
        newest: the ledger's newest job (status URL or id), or None when it is empty.
    """
    refs = [j.strip() for j in jobs if j.strip()]
    if last:
        if newest is None:
            raise CliError(
                "--last: no jobs in the local ledger yet; submit one, or pass a job id",
                ExitCode.USAGE,
            )
        refs.insert(0, newest)
    if not refs:
        raise CliError("missing JOB: give a job id, a status URL, or --last")
    return refs
