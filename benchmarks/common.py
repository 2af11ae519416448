"""Shared pieces of the benchmarks: settings, statistics, result rows, child processes.

Every figure is a ratio against a baseline measured in the same run (the machine is
shared and noisy): a row holds the candidate's and the baseline's medians, the
ratio of the two, and the spread of the per-repetition values, so no absolute
time is ever quoted alone.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Row",
    "Settings",
    "Spread",
    "bin_path",
    "fmt_ratio",
    "median",
    "parse_iso",
    "peak_rss_mib",
    "percentile",
    "rss_mib",
    "run_child",
    "spread",
    "timed",
]


@dataclass
class Settings:
    """Sizes and switches of one benchmark run (see ``python -m benchmarks --help``).

    Args:
        quick: small sizes for a CI smoke test.
        reps: repetitions of each timed measurement (medians are taken over them).
        startup_runs: runs of each command in the start-up rows.
        jobs: jobs per strategy in the latency row.
        job_seconds: length of those jobs.
        lengths: job lengths of the requests-per-job row.
        per_length: jobs per strategy and length in the requests-per-job row.
        fanout: concurrent jobs followed in the fan-out row.
        fanout_seconds: length of those jobs.
        blob_mib: size of the downloaded blob, MiB.
        load_seconds: duration of one load-generator run (server row).
        load_concurrency: concurrent connections of the load generator.
        followers: SSE followers held open in the server row.
        hold_seconds: how long they are held.
        keepalive: the server's SSE keepalive interval in the server row.
        mux_jobs: jobs followed by the one multiplexed stream of the server row.
        many_jobs: jobs followed by one ``wait_many`` in the fan-out row's
            completion/memory/connections figure (0: not measured).
        display_jobs: the most jobs fed to the progress display in the display row.
        dialect_jobs: jobs per dialect and client in the dialects row (0: not measured).
        dialect_seconds: the length of those jobs.
        workdir: scratch directory (databases, downloads).
    """

    quick: bool = False
    reps: int = 3
    startup_runs: int = 15
    jobs: int = 100
    job_seconds: float = 2.0
    lengths: tuple[float, ...] = (20.0, 120.0)
    per_length: int = 5
    fanout: int = 1000
    fanout_seconds: float = 5.0
    blob_mib: int = 1024
    load_seconds: float = 5.0
    load_concurrency: int = 32
    followers: int = 1000
    hold_seconds: float = 20.0
    keepalive: float = 5.0
    mux_jobs: int = 10_000
    many_jobs: int = 2_000
    display_jobs: int = 1000
    dialect_jobs: int = 20
    dialect_seconds: float = 3.0
    workdir: Path = field(default_factory=lambda: Path("/tmp"))


@dataclass(frozen=True)
class Spread:
    """The spread of repeated measurements.

    Args:
        low: the smallest value.
        high: the largest value.
        n: how many values.
    """

    low: float
    high: float
    n: int

    def text(self, fmt: Callable[[float], str]) -> str:
        """``low–high (n=N)`` with ``fmt`` applied to both ends.

        Args:
            fmt: formats one value.
        """
        return f"{fmt(self.low)}–{fmt(self.high)} (n={self.n})"


@dataclass
class Row:
    """One line of the results table.

    Args:
        row: the row's id (``--only`` takes it).
        figure: what is measured.
        value: the candidate's figure, human-readable (median, with unit).
        baseline: the baseline's name and its figure in the same run.
        ratio: candidate / baseline (medians), or None when there is no baseline.
        spread: the spread of the per-repetition ratio (or value), human-readable.
        target: the target, human-readable.
        met: whether the target is met (None: no target or not measurable).
        note: anything the reader must know to read the figure.
    """

    row: str
    figure: str
    value: str
    baseline: str
    ratio: float | None
    spread: str
    target: str = "—"
    met: bool | None = None
    note: str = ""


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values).

    Args:
        values: the measurements.
    """
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank on sorted values; NaN for no values).

    Args:
        values: the measurements.
        q: 0..100.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def spread(values: Sequence[float]) -> Spread:
    """Min and max of the values.

    Args:
        values: the measurements.
    """
    if not values:
        return Spread(math.nan, math.nan, 0)
    return Spread(min(values), max(values), len(values))


def fmt_ratio(value: float | None) -> str:
    """A ratio as ``0.42x`` (``—`` for None/NaN).

    Args:
        value: the ratio.
    """
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.2f}x"


def parse_iso(text: str) -> float:
    """Unix seconds of an RFC 3339 timestamp (``...Z`` allowed).

    Args:
        text: the timestamp.
    """
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of one run of a command (its output discarded; must exit 0).

    Args:
        argv: the command.
        env: its environment (default: ours).
    """
    started = time.perf_counter()
    done = subprocess.run(
        list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise RuntimeError(f"{argv[0]} exited {done.returncode}: {' '.join(err)}")
    return elapsed


def bin_path(name: str) -> Path:
    """A console script of the running virtual environment.

    Args:
        name: the script's name.
    """
    return Path(sys.executable).parent / name


def peak_rss_mib(pid: str | int = "self") -> float:
    """A process's peak resident set size (``VmHWM``) in MiB.

    Args:
        pid: a process id, or ``self``.
    """
    return _status_kib(pid, "VmHWM") / 1024.0


def rss_mib(pid: str | int = "self") -> float:
    """A process's current resident set size (``VmRSS``) in MiB.

    Args:
        pid: a process id, or ``self``.
    """
    return _status_kib(pid, "VmRSS") / 1024.0


def _status_kib(pid: str | int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def run_child(kind: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``python -m benchmarks.child KIND`` and return the JSON it prints last.

    Args:
        kind: which measurement the child makes.
        params: its parameters (JSON on stdin).
        timeout: seconds before it is killed.
    """
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", kind],
        input=json.dumps(params).encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.decode("utf-8", "replace").strip()[-1500:]
        raise RuntimeError(f"child {kind} exited {done.returncode}: {tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
