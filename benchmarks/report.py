"""The results as a plain-text table (stdout) and as ``docs/benchmarks.md``.

The page states the machine (cores, memory, CPU model, load), the versions of
everything measured (python, jobctl, httpx, uvicorn, curl, httpie) and the date,
then one table row per figure: the value, the baseline measured in the same run,
their ratio, the spread, the target and whether it is met.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .common import Row, Settings, bin_path, fmt_ratio

__all__ = ["PartRun", "environment", "markdown", "text_table"]

_MET = {True: "met", False: "MISSED", None: "—"}


@dataclass(frozen=True)
class PartRun:
    """Rows measured by a later run and merged into a saved one (``--merge``).

    Args:
        rows: the row ids it measured.
        env: its ``environment()``.
        settings: its sizes.
        command: its command line.
        minutes: how long it took.
    """

    rows: tuple[str, ...]
    env: dict[str, str]
    settings: Settings
    command: str
    minutes: float


def _first_line(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "not installed"
    out = (done.stdout or done.stderr).strip().splitlines()
    return out[0] if out else "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, str]:
    """The machine, the versions of what is measured, and the date (UTC)."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    http = bin_path("http")
    http_cmd = str(http) if http.exists() else (shutil.which("http") or "http")
    load = os.getloadavg()
    root = Path(__file__).resolve().parent.parent
    commit = _first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    if not commit or "fatal" in commit or "not installed" in commit:
        commit = os.environ.get("JOBCTL_BENCH_COMMIT", "unknown")
    dirty = _first_line(
        ["git", "-C", str(root), "status", "--porcelain", "--", "src", "mock_server"]
    )
    source = f"commit {commit}" + (
        " (working tree has uncommitted changes in src/ or mock_server/)"
        if dirty not in ("unknown", "") and "fatal" not in dirty
        else ""
    )
    return {
        "source": source,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "cpu": cpu,
        "kernel": platform.release(),
        "load": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "python": platform.python_version(),
        "jobctl": _version("jobctl"),
        "httpx": _version("httpx"),
        "uvicorn": _version("uvicorn"),
        "curl": _first_line(["curl", "--version"]),
        "httpie": _first_line([http_cmd, "--version"]),
        "azure-core": _version("azure-core"),
        "azure-mgmt-core": _version("azure-mgmt-core"),
    }


def text_table(rows: Sequence[Row]) -> str:
    """The results as an aligned plain-text table.

    Args:
        rows: the results.
    """
    header = ("row", "figure", "value", "baseline (same run)", "ratio", "spread", "target", "")
    cells = [header] + [
        (r.row, r.figure, r.value, r.baseline, fmt_ratio(r.ratio), r.spread, r.target, _MET[r.met])
        for r in rows
    ]
    widths = [min(60, max(len(c[i]) for c in cells)) for i in range(len(header))]
    lines = []
    for i, cell in enumerate(cells):
        lines.append("  ".join(c[:60].ljust(w) for c, w in zip(cell, widths, strict=True)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"- {r.figure}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(
    rows: Sequence[Row],
    env: dict[str, str],
    settings: Settings,
    command: str,
    minutes: float,
    rendered_by: str | None = None,
    parts: Sequence[PartRun] = (),
) -> str:
    """The page ``docs/benchmarks.md``.

    Args:
        rows: the results.
        env: from ``environment()``.
        settings: the run's sizes.
        command: the command line that produced it.
        minutes: how long the run took.
        rendered_by: the command that wrote the page from a saved run, if any.
        parts: rows measured later and merged in, each with its own date and machine.
    """
    out = [
        "# Benchmarks",
        "",
        "Measured by `"
        + command
        + "`"
        + (f", page written by `{rendered_by}`" if rendered_by else "")
        + " (generated: edit `benchmarks/report.py` and `benchmarks/analysis.md`, not "
        "this file). Every figure is compared with a baseline "
        "measured in the same run on the same machine, because the machine is shared and "
        "noisy: the value and the baseline are medians over repetitions, the ratio is "
        "value / baseline, and the spread is the range over repetitions (or over jobs).",
        "",
        "## Machine and versions",
        "",
        f"- date: {env['date']} (run took {minutes:.1f} min)",
        f"- machine: {env['nproc']} CPUs ({env['cpu']}), {env['memory']} RAM, Linux "
        f"{env['kernel']}; load average at start {env['load']}. The machine was shared with "
        "other work during the run, so absolute figures are noisy; compare the ratios.",
        f"- server: `python -m {env.get('server', 'mock_server')}`"
        + (
            " — DIAGNOSTIC run with the TCP_NODELAY fix, not the shipped server"
            if env.get("server", "mock_server") != "mock_server"
            else ""
        ),
        f"- source: {env['source']}",
        f"- python {env['python']}, jobctl {env['jobctl']}, httpx {env['httpx']}, "
        f"uvicorn {env['uvicorn']}",
        f"- curl: {env['curl']}",
        f"- httpie: {env['httpie']}",
        *(
            [f"- azure-core {env['azure-core']}, azure-mgmt-core {env['azure-mgmt-core']}"]
            if "azure-core" in env
            else []
        ),
        f"- sizes: {_sizes(settings)}",
        *(_part_line(part) for part in parts),
        "",
        "## Results",
        "",
        "| row | figure | value | baseline (same run) | ratio | spread | target | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cells = (
            r.row,
            r.figure,
            r.value,
            r.baseline,
            fmt_ratio(r.ratio),
            r.spread,
            r.target,
            _MET[r.met],
        )
        out.append("| " + " | ".join(_md(c) for c in cells) + " |")
    notes = [f"- {_md(r.figure)}: {_md(r.note)}" for r in rows if r.note]
    if notes:
        out += ["", "Notes:", "", *notes]
    out += ["", _METHOD]
    return "\n".join(out) + "\n"


def _sizes(settings: Settings) -> str:
    return (
        f"{settings.reps} repetitions; start-up rows {settings.startup_runs} runs; "
        f"latency {settings.jobs} jobs of {settings.job_seconds:g} s per strategy; "
        f"requests per job: {settings.per_length} jobs per strategy of "
        f"{', '.join(f'{x:g}' for x in settings.lengths)} s; fan-out {settings.fanout} jobs "
        f"of {settings.fanout_seconds:g} s; blob {settings.blob_mib} MiB; load "
        f"{settings.load_seconds:g} s × {settings.load_concurrency} connections; "
        f"{settings.followers} followers held {settings.hold_seconds:g} s"
        + (f"; {settings.mux_jobs} jobs per multiplexed stream" if settings.mux_jobs else "")
        + (
            f"; dialects: {settings.dialect_jobs} jobs of {settings.dialect_seconds:g} s "
            "per dialect and client"
            if settings.dialect_jobs
            else ""
        )
        + (f"; {settings.many_jobs} jobs in one wait_many" if settings.many_jobs else "")
    )


def _part_line(part: PartRun) -> str:
    env = part.env
    names = ", ".join(f"`{name}`" for name in part.rows)
    return (
        f"- row(s) {names} measured separately and merged in: `{part.command}` on "
        f"{env['date']} (took {part.minutes:.1f} min) on {env['nproc']} CPUs ({env['cpu']}), "
        f"{env['memory']} RAM, load average at start {env['load']}, "
        f"{env['source']}, python {env['python']}, uvicorn {env['uvicorn']}"
        + (
            f", azure-core {env['azure-core']}, azure-mgmt-core {env['azure-mgmt-core']}"
            if "azure-core" in env
            else ""
        )
        + "; its sizes: "
        f"{_sizes(part.settings)}"
    )


_METHOD = """## How to run it

```bash
python -m benchmarks --setup          # once: pip-installs httpie and azure-core, checks curl
python -m benchmarks                  # the full run (about 15-20 minutes), writes this page
python -m benchmarks --quick --out /tmp/b.md   # small sizes: the CI smoke test
python -m benchmarks --only latency --jobs 20  # one row, other sizes
python -m benchmarks --save benchmarks/last-run.json   # keep the results as JSON
python -m benchmarks --render benchmarks/last-run.json --notes benchmarks/analysis.md
python -m benchmarks --only redis --merge benchmarks/last-run.json \\
    --save benchmarks/last-run.json --notes benchmarks/analysis.md  # re-measure one row
```

Every row starts its own reference server (`python -m mock_server`) on 127.0.0.1
with a temporary database, `--quiet`, no rate limit, and enough `--workers` for all
its jobs to run at once. `--setup` is the only step that touches the network (pip);
httpie is deliberately not a project dependency, and azure-core and azure-mgmt-core
are only in the `bench` extra (`pip install -e '.[bench]'`).

## How each figure is measured

- **startup / status**: each repetition runs the baseline and then the candidate
  (`subprocess`, output discarded, one warm-up each), so both see the same load;
  the ratio is the median of the per-repetition ratios. `jobctl` is the console
  script of the running venv; JOBCTL_* variables are cleared and JOBCTL_CONFIG
  points to a missing file. `status` compares `jobctl status ID` with
  `http --ignore-stdin GET URL Authorization:'Bearer …'` on a completed job.
- **latency**: the time from the server's `completedAt` (ms precision) to the moment
  `wait()` returned, per job, on the same clock. One client follows all jobs of a
  strategy concurrently; submissions are spread over one job length. Strategies run
  interleaved within each repetition. *hints* is `strategy='poll'` with
  `PollPolicy(long_poll=0)`: no long polls, the server's `Retry-After`/`retryAfter`
  and `estimatedCompletion` pace the polls. The naive poller sleeps 1 s, GETs,
  multiplies the pause by 1.5 up to 30 s (plain httpx).
- **requests**: `GET /api/_stats` counts the requests on each job's URLs; one submit
  per job is added. All strategies and lengths run at the same time.
- **fanout**: child processes (`python -m benchmarks.child`), CPU from `getrusage`,
  peak RSS from `/proc/self/status` VmHWM (the interpreter included), wall time from
  the first submit to the last `wait()` returning.
- **download**: see `benchmarks/download.py`; peak RSS is `VmHWM` (sampled every
  10 ms for curl, read by the client's own process at the end).
- **server**: a raw-socket load generator (not httpx, so the generator is cheap) in a
  child process; followers are raw sockets that count `:` comment lines. Multiplexed
  streams (`benchmarks/mux.py`): a fresh server (so no memory freed by the followers
  is reused unseen) with N live jobs; 10 WebSockets each subscribe to all N and read
  a snapshot of each; RSS held minus RSS before, per job and stream.
- **redis**: the same load generator and followers (`benchmarks/capacity.py`) against
  a Redis deployment: one `redis-server` (loopback, no persistence), one
  `python -m mock_server worker`, API processes with `--workers 0`. "1 API
  process" sends every connection to S; "2 API processes" spreads them round-robin
  over A and B (fresh processes, so the second hold cannot reuse memory the first
  grew); memory is the API processes' RSS summed (not redis-server's). Skipped
  when `redis-server` is not installed (Debian: `apt-get install redis-server`).
- **display**: no server. The progress display (`jobctl/cli/live.py`, and plain
  lines) is fed N synthetic jobs in this process (add, three progress steps, end;
  one in fifty fails) on a simulated clock that moves 2 ms a step and ticks every
  0.5 s; the live view draws on a forced-terminal rich console (120×40) writing to
  `/dev/null`. Wall time per job (plain: per line printed) at 150 and 1,000 jobs
  against 10 jobs in the same repetition (the median of 15 runs of 10 jobs).
- **dialects**: `benchmarks/dialects.py`. Per dialect the reference server speaks
  (Azure data plane, Azure Resource Manager, Google AIP-151, plain `202 + Location`,
  our own), N sleep jobs started over one second and followed to their result,
  concurrently, by one client at a time: `jobctl.follow(response, client)` on the
  caller's `httpx.AsyncClient`; a hand-written loop on the same client that GETs the
  same URLs every 1 s (fixed); and for the Azure dialects `AsyncJobsClient.call()` +
  `wait_operation()` (one client for all jobs) and azure-core's `LROPoller`
  (`LROBasePolling`, or azure-mgmt-core's `ARMPolling`) with the default polling of
  the generated clients (`Retry-After`, else 30 s), on a `PipelineClient` with a
  generated client's policies, `result()` in a thread per job. Requests are the
  server's counts (`/api/_stats`) per job, the start included; latency is from the
  job's `completedAt` to the client having the result; CPU is this process's
  (`time.process_time`, all threads) per job. A warm-up operation per client and
  dialect first. The jobs are the samples (one pass); requests are the mean per job.
"""
