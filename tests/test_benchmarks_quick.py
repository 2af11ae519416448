"""Smoke test of ``python -m benchmarks --quick``: every row runs and a table is printed.

Nothing about time is asserted (speed is what the benchmark itself reports);
the sizes are squeezed so the whole run stays well under a minute. The
``dialects`` row (a dozen clients one after the other, each at least a 1 s poll)
has a test of its own, so the two share the time limit less.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TIGHT = [
    "--quick",
    "--reps", "1",
    "--startup-runs", "1",
    "--jobs", "3",
    "--job-seconds", "0.5",
    "--lengths", "1",
    "--per-length", "1",
    "--fanout", "5",
    "--fanout-seconds", "0.5",
    "--blob-mib", "4",
    "--load-seconds", "0.3",
    "--load-concurrency", "4",
    "--followers", "5",
    "--hold-seconds", "1.5",
    "--keepalive", "0.5",
    "--mux-jobs", "50",
    "--many-jobs", "20",
]  # fmt: skip

ROWS = (
    "startup",
    "status",
    "latency",
    "requests",
    "fanout",
    "download",
    "server",
    "redis",
    "display",
)


@pytest.mark.integration
@pytest.mark.slow  # ~60 s of every row at its smallest: CI keeps under 15 minutes
@pytest.mark.timeout(110)
def test_quick_run_prints_a_table_and_writes_markdown(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    saved = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *TIGHT, *(f"--only={row}" for row in ROWS),
         "--out", str(out), "--save", str(saved)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["row", "figure", "value"]
    for row in ROWS:
        assert any(line.startswith(row + " ") for line in lines), f"no {row} row:\n{done.stdout}"
    assert "the measurement failed" not in done.stdout
    page = out.read_text("utf-8")
    for figure in ("one `wait_many`", "connections wait_many held", "raw-socket SSE reader"):
        assert figure in page, f"no {figure!r} figure:\n{page}"
    assert page.startswith("# Benchmarks")
    assert "| row | figure | value | baseline (same run) |" in page
    for word in ("date:", "cpus", "ram", "python", "jobctl", "httpx", "uvicorn", "curl", "httpie"):
        assert word in page.lower(), word

    # The page can be written again from the saved run, with notes appended.
    notes = tmp_path / "notes.md"
    notes.write_text("## Analysis\n\nwhy the figures are what they are\n")
    again = tmp_path / "again.md"
    rendered = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--render", str(saved), "--out", str(again),
         "--notes", str(notes)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    rewritten = again.read_text("utf-8")
    assert rewritten.endswith("\n## Analysis\n\nwhy the figures are what they are\n")
    results = page[page.index("## Results") : page.index("## How to run it")]
    assert results in rewritten
    assert f"page written by `python -m benchmarks --render {saved}" in rewritten

    # One row measured again is merged into the saved run; the other rows stay as they were.
    merged, merged_page = tmp_path / "merged.json", tmp_path / "merged.md"
    remeasured = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--reps", "1", "--startup-runs", "1",
         "--only", "startup", "--merge", str(saved), "--save", str(merged),
         "--out", str(merged_page)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert remeasured.returncode == 0, remeasured.stderr[-2000:]
    before, after = json.loads(saved.read_text()), json.loads(merged.read_text())
    assert [r["row"] for r in after["rows"]] == [r["row"] for r in before["rows"]]
    assert [r for r in after["rows"] if r["row"] != "startup"] == [
        r for r in before["rows"] if r["row"] != "startup"
    ]
    assert [p["rows"] for p in after["parts"]] == [["startup"]]
    assert "row(s) `startup` measured separately and merged in" in merged_page.read_text()


@pytest.mark.integration
@pytest.mark.timeout(110)
def test_dialects_row_follows_every_dialect_with_each_client(tmp_path: Path) -> None:
    saved = tmp_path / "d.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "dialects",
         "--dialect-jobs", "1", "--dialect-seconds", "0.3", "--save", str(saved)],
        cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(saved.read_text())["rows"]
    assert {r["row"] for r in rows} == {"dialects"}
    assert all(r["value"] not in ("error", "—") for r in rows if r["value"] != "skipped"), rows
    for dialect in ("Azure data plane", "Azure Resource Manager", "Google", "plain", "own API"):
        mine = [r for r in rows if dialect in r["figure"] and r["baseline"].startswith("naive:")]
        assert len(mine) == 3, dialect  # requests, latency, CPU against the 1 s poller
    azure = [r for r in rows if r["baseline"].startswith("azure-core:")]
    from benchmarks.dialects import azure_core_version

    if azure_core_version() is not None:
        assert len(azure) == 12  # 2 dialects x (follow(), call()) x (requests, latency, CPU)
        assert all(r["met"] is not None for r in azure if "CPU" not in r["figure"])
    else:
        assert not azure
        assert [r["value"] for r in rows if "azure-core" in r["figure"]] == ["skipped"]


def test_unknown_row_is_a_one_line_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: unknown row 'nope'; rows are startup, status, latency, requests, fanout, "
        "download, server, redis, display, dialects (or 1-10)"
    ]
