"""``python -m benchmarks``: measure every row, print the table, write ``docs/benchmarks.md``.

Rows (``--only`` takes the name or the number): 1 ``startup``, 2 ``status``,
3 ``latency``, 4 ``requests``, 5 ``fanout``, 6 ``download``, 7 ``server``,
8 ``redis`` (the server on the Redis store, one vs two API processes), 9 ``display``
(the progress display's cost per job at 10 vs 150 and 1,000 jobs; no server), 10
``dialects`` (following an operation in each dialect the reference server speaks, with
``jobctl.follow`` against a 1 s poller and azure-core's ``LROPoller``).
``--setup`` installs httpie and the ``bench`` extra (azure-core, azure-mgmt-core:
the dialects row's baseline) into this venv and checks that curl exists; ``--quick``
uses small sizes (a CI smoke test, nothing about time is asserted).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .common import Row, Settings

__all__ = ["ROWS", "main"]

ROWS: tuple[str, ...] = (
    "startup",
    "status",
    "latency",
    "requests",
    "fanout",
    "download",
    "server",
    "redis",
    "display",
    "dialects",
)
_QUICK = {
    "reps": 2,
    "startup_runs": 3,
    "jobs": 5,
    "job_seconds": 1.0,
    "lengths": "2,4",
    "per_length": 2,
    "fanout": 20,
    "fanout_seconds": 1.0,
    "blob_mib": 16,
    "load_seconds": 1.0,
    "followers": 20,
    "hold_seconds": 3.0,
    "keepalive": 1.0,
    "mux_jobs": 200,
    "many_jobs": 60,
    "display_jobs": 150,
    "dialect_jobs": 2,
    "dialect_seconds": 0.5,
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument(
        "--setup",
        action="store_true",
        help="pip-install httpie and the bench extra (azure-core), check curl, exit",
    )
    p.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    p.add_argument("--only", action="append", metavar="ROW", help=f"run only ROW: {ROWS}")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="markdown output path (default: docs/benchmarks.md; --quick: none unless given)",
    )
    p.add_argument("--save", type=Path, default=None, help="also save the results as JSON")
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="write the page from a run saved with --save, without measuring",
    )
    p.add_argument(
        "--merge",
        type=Path,
        default=None,
        metavar="JSON",
        help="put the rows measured now (--only) into a run saved with --save, replacing "
        "its rows of the same ids, and write the page from the merged run",
    )
    p.add_argument(
        "--notes",
        type=Path,
        default=None,
        help="a markdown file appended to the page (e.g. benchmarks/analysis.md)",
    )
    d = Settings()
    p.add_argument("--reps", type=int, help=f"repetitions (default {d.reps})")
    p.add_argument("--startup-runs", type=int, help=f"runs per command (default {d.startup_runs})")
    p.add_argument("--jobs", type=int, help=f"latency: jobs per strategy (default {d.jobs})")
    p.add_argument("--job-seconds", type=float, help="latency: job length (default 2)")
    p.add_argument("--lengths", help="requests: job lengths, comma-separated (default 20,120)")
    p.add_argument(
        "--per-length",
        type=int,
        help=f"requests: jobs per strategy and length (default {d.per_length})",
    )
    p.add_argument("--fanout", type=int, help=f"fanout: concurrent jobs (default {d.fanout})")
    p.add_argument("--fanout-seconds", type=float, help="fanout: job length (default 5)")
    p.add_argument(
        "--blob-mib", type=int, help=f"download: blob size in MiB (default {d.blob_mib})"
    )
    p.add_argument("--blob-gib", type=float, help="download: blob size in GiB")
    p.add_argument("--load-seconds", type=float, help="server: seconds per load run (default 5)")
    p.add_argument("--load-concurrency", type=int, help="server: connections (default 32)")
    p.add_argument("--followers", type=int, help=f"server: SSE followers (default {d.followers})")
    p.add_argument("--hold-seconds", type=float, help="server: seconds followers are held")
    p.add_argument("--keepalive", type=float, help="server: SSE keepalive interval (default 5)")
    p.add_argument(
        "--mux-jobs",
        type=int,
        help=f"server: jobs on one multiplexed stream (default {d.mux_jobs})",
    )
    p.add_argument(
        "--many-jobs",
        type=int,
        help=f"fanout: jobs followed by one wait_many, 0 to skip (default {d.many_jobs})",
    )
    p.add_argument(
        "--display-jobs", type=int, help=f"display: the most jobs fed (default {d.display_jobs})"
    )
    p.add_argument(
        "--dialect-jobs",
        type=int,
        help=f"dialects: jobs per dialect and client (default {d.dialect_jobs})",
    )
    p.add_argument(
        "--dialect-seconds",
        type=float,
        help=f"dialects: the shortest job (the others up to 1 s longer; default "
        f"{d.dialect_seconds:g})",
    )
    return p


def _settings(args: argparse.Namespace, workdir: Path) -> Settings:
    values: dict[str, object] = dict(_QUICK) if args.quick else {}
    for name in (*_QUICK, "load_concurrency"):
        given = getattr(args, name, None)
        if given is not None:
            values[name] = given
    if args.blob_gib is not None:
        values["blob_mib"] = round(args.blob_gib * 1024)
    lengths = values.pop("lengths", None)
    settings = Settings(quick=args.quick, workdir=workdir, **values)  # type: ignore[arg-type]
    if lengths is not None:
        settings.lengths = tuple(float(x) for x in str(lengths).split(",") if x.strip())
    return settings


def _bench_extra() -> list[str]:
    """The requirements of pyproject's ``bench`` extra (the one list of them)."""
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text("utf-8"))["project"]["optional-dependencies"]
    return list(extras["bench"])


def _setup() -> int:
    """Install httpie and the ``bench`` extra into this venv and check that curl exists."""
    if shutil.which("curl") is None:
        print("error: curl is not installed (apt-get install curl)", file=sys.stderr)
        return 1
    wanted = ["httpie", *_bench_extra()]
    done = subprocess.run([sys.executable, "-m", "pip", "install", *wanted], check=False)
    if done.returncode != 0:
        print(f"error: pip could not install {' '.join(wanted)}", file=sys.stderr)
        return 1
    print(f"ready: curl and {', '.join(wanted)} are installed")
    return 0


def _runners() -> dict[str, Callable[[Settings], list[Row]]]:
    from .dialects import dialect_rows
    from .display import display_rows
    from .download import download_rows
    from .fanout import fanout_rows
    from .latency import latency_rows
    from .redisload import redis_rows
    from .reqcount import request_rows
    from .serverload import server_rows
    from .startup import cli_startup_rows, status_rows

    return {
        "startup": cli_startup_rows,
        "status": status_rows,
        "latency": latency_rows,
        "requests": request_rows,
        "fanout": fanout_rows,
        "download": download_rows,
        "server": server_rows,
        "redis": redis_rows,
        "display": display_rows,
        "dialects": dialect_rows,
    }


def _selected(only: Sequence[str] | None) -> list[str]:
    if not only:
        return list(ROWS)
    chosen = []
    for item in only:
        for name in item.split(","):
            name = name.strip()
            if name.isdigit() and 1 <= int(name) <= len(ROWS):
                name = ROWS[int(name) - 1]
            if name not in ROWS:
                rows = ", ".join(ROWS)
                raise ValueError(f"unknown row {name!r}; rows are {rows} (or 1-{len(ROWS)})")
            chosen.append(name)
    # In the table's order, so a row can compare with an earlier one (redis with server).
    return [name for name in ROWS if name in chosen]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; returns the exit code (0 even when a target is missed).

    Args:
        argv: arguments (default: ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    if args.setup:
        return _setup()
    try:
        rows_wanted = _selected(args.only)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .report import environment, text_table
    from .saved import load_run, merge_runs, render_run, save_run, saved_run
    from .server import SERVER_MODULE

    if args.render is not None:
        return _render(args)
    base: dict[str, Any] = {}
    if args.merge is not None:
        try:
            base = load_run(args.merge)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    started = time.monotonic()
    env = environment()
    env["server"] = SERVER_MODULE
    rows: list[Row] = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix="jobctl-bench-") as tmp:
        settings = _settings(args, Path(tmp))
        runners = _runners()
        for name in rows_wanted:
            print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)
            try:
                rows += runners[name](settings)
            except Exception as exc:
                failed += 1
                traceback.print_exc()
                why = f"{type(exc).__name__}: {str(exc)[:300]}"
                rows.append(
                    Row(
                        name,
                        f"{name}: the measurement failed",
                        "error",
                        "—",
                        None,
                        "—",
                        "—",
                        False,
                        why,
                    )
                )
    print(text_table(rows))
    command = "python -m benchmarks" + (
        " " + shlex.join(argv or sys.argv[1:]) if (argv or sys.argv[1:]) else ""
    )
    minutes = (time.monotonic() - started) / 60
    run = saved_run(rows, env, settings, command, minutes)
    rendered_by = None
    if args.merge is not None:
        run = merge_runs(base, run, ROWS)
        rendered_by = command
    if args.save is not None:
        save_run(run, args.save)
    out = args.out if args.out is not None else (None if args.quick else Path("docs/benchmarks.md"))
    if out is not None:
        _write_page(out, render_run(run, rendered_by)[1], args.notes)
    return 1 if failed else 0


def _write_page(out: Path, page: str, notes: Path | None) -> None:
    if notes is not None:
        page += "\n" + notes.read_text("utf-8").strip() + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, "utf-8")
    print(f"wrote {out}", file=sys.stderr)


def _render(args: argparse.Namespace) -> int:
    """Write the page again from a run saved with ``--save`` (no measuring)."""
    from .report import text_table
    from .saved import load_run, render_run

    try:
        run = load_run(args.render)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    argv = ["--render", str(args.render)] + (["--notes", str(args.notes)] if args.notes else [])
    rows, page = render_run(run, "python -m benchmarks " + shlex.join(argv))
    print(text_table(rows))
    _write_page(args.out or Path("docs/benchmarks.md"), page, args.notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
