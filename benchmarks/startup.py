"""Rows 1 and 2: how long the command line takes, against what people would run instead.

Each repetition runs the baseline and the candidate back to back, so both see the
same load; the figure is the median of the per-repetition ratios, with their range.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from .common import Row, Settings, bin_path, fmt_ratio, median, spread, timed
from .server import USER_TOKEN, BenchServer

__all__ = ["cli_startup_rows", "status_rows"]


def _paired(
    baseline: Sequence[str], candidate: Sequence[str], runs: int, env: dict[str, str]
) -> tuple[list[float], list[float], list[float]]:
    """Times of the baseline, the candidate, and their per-run ratios (one warm-up run each)."""
    timed(baseline, env)
    timed(candidate, env)
    base: list[float] = []
    cand: list[float] = []
    for _ in range(runs):
        base.append(timed(baseline, env))
        cand.append(timed(candidate, env))
    return base, cand, [c / b for b, c in zip(base, cand, strict=True)]


def _clean_env(tmp: Path) -> dict[str, str]:
    """Our environment without jobctl settings, and a config file that does not exist."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env["JOBCTL_CONFIG"] = str(tmp / "no-config.toml")
    env["NO_COLOR"] = "1"
    return env


def _row(
    row: str,
    figure: str,
    base_name: str,
    limit: float,
    base: list[float],
    cand: list[float],
    ratios: list[float],
) -> Row:
    ratio = median(ratios)
    return Row(
        row=row,
        figure=figure,
        value=f"{median(cand) * 1000:.0f} ms",
        baseline=f"{base_name}: {median(base) * 1000:.0f} ms",
        ratio=ratio,
        spread=spread(ratios).text(fmt_ratio),
        target=f"≤ {limit:g}x",
        met=ratio <= limit,
    )


def cli_startup_rows(settings: Settings) -> list[Row]:
    """``jobctl --version`` and ``jobctl --help`` against ``python -c pass``.

    Args:
        settings: the run's settings.
    """
    jobctl = str(bin_path("jobctl"))
    env = _clean_env(settings.workdir)
    python = [sys.executable, "-c", "pass"]
    rows = []
    for args, limit in ((["--version"], 3.0), (["--help"], 6.0)):
        base, cand, ratios = _paired(python, [jobctl, *args], settings.startup_runs, env)
        rows.append(
            _row(
                "startup",
                f"`jobctl {args[0]}` wall time",
                "`python -c pass`",
                limit,
                base,
                cand,
                ratios,
            )
        )
    return rows


def status_rows(settings: Settings) -> list[Row]:
    """``jobctl status ID`` against httpie's ``http GET URL Authorization:...``.

    Args:
        settings: the run's settings.
    """
    http = bin_path("http")
    if not http.exists():
        found = shutil.which("http")
        if found is None:
            return [
                Row(
                    "status",
                    "`jobctl status ID` wall time",
                    "skipped",
                    "httpie `http GET`",
                    None,
                    "—",
                    "≤ 0.8x",
                    None,
                    "httpie is not installed: run `python -m benchmarks --setup`",
                )
            ]
        http = Path(found)
    with BenchServer(workdir=settings.workdir) as server:
        job = server.submit("echo", {"hello": "world"})
        server.wait_status(job["jobId"])
        env = _clean_env(settings.workdir)
        env["JOBCTL_URL"] = server.url
        env["JOBCTL_TOKEN"] = USER_TOKEN
        url = f"{server.url}/api/jobs/{job['jobId']}"
        baseline = [str(http), "--ignore-stdin", "GET", url, f"Authorization:Bearer {USER_TOKEN}"]
        candidate = [str(bin_path("jobctl")), "status", job["jobId"]]
        base, cand, ratios = _paired(baseline, candidate, settings.startup_runs, env)
    return [
        _row("status", "`jobctl status ID` wall time", "httpie `http GET`", 0.8, base, cand, ratios)
    ]
