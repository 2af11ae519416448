"""Generate ``src/jobctl/_io/sync.py`` from ``src/jobctl/_io/aio.py`` (httpcore-style unasync).

Run ``python scripts/unasync.py`` after editing ``aio.py``; a test
(``tests/sdk/test_public_api.py``) fails when the checked-in ``sync.py`` differs
from what this produces.

Rules: ``async``/``await`` removed, async names mapped to their sync twins
(word-bounded), and a line ending in ``# sync: CODE`` becomes ``CODE`` (an empty
``CODE`` drops the line). The result is formatted with ``ruff format``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "jobctl" / "_io" / "aio.py"
TARGET = ROOT / "src" / "jobctl" / "_io" / "sync.py"

HEADER = '''"""``JobsClient``: the synchronous shell around the shared flows.

GENERATED from ``aio.py`` by ``scripts/unasync.py`` — do not edit by hand; edit
``aio.py`` and re-run the script (a test fails when the two drift). Every decision
is made in the pure core (``jobctl._core``); this file only does I/O.
"""
'''

WORDS = {
    "AsyncJobsClient": "JobsClient",
    "AsyncLane": "Lane",
    "AsyncRouter": "Router",
    "AsyncRetrying": "Retrying",
    "AsyncIterator": "Iterator",
    "AsyncClient": "Client",
    "aiter_bytes": "iter_bytes",
    "anext": "next",
    "aclose": "close",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "asyncio": "time",
}
PHRASES = {
    "websockets.asyncio.client": "websockets.sync.client",
    "An asyncio client": "A synchronous client",
    "an async context manager": "a context manager",
    "httpx.AsyncClient": "httpx.Client",
    "by ``aclose()``": "by ``close()``",
}
_SYNC_COMMENT = re.compile(r"^(\s*)(.*?)\s*# sync:(.*)$")


def convert(source: str) -> str:
    """The sync module text for the async module text (before formatting)."""
    body = source.split('"""', 2)[2].lstrip("\n")
    out: list[str] = []
    for line in body.splitlines():
        match = _SYNC_COMMENT.match(line)
        if match:
            replacement = match.group(3).strip()
            if not replacement:
                continue
            line = match.group(1) + replacement
        for old, new in PHRASES.items():
            line = line.replace(old, new)
        line = re.sub(r"\basync def\b", "def", line)
        line = re.sub(r"\basync (for|with)\b", r"\1", line)
        line = re.sub(r"\bawait ", "", line)
        for old, new in WORDS.items():
            line = re.sub(rf"\b{re.escape(old)}\b", new, line)
        out.append(line)
    return HEADER + "\n" + "\n".join(out) + "\n"


def generate() -> str:
    """The formatted text of ``client.py``."""
    text = convert(SOURCE.read_text("utf-8"))
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    fixed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--fix",
            "--select",
            "I,F401",
            "--stdin-filename",
            str(TARGET),
            "-",
        ],
        input=result.stdout,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return fixed.stdout or result.stdout


if __name__ == "__main__":
    TARGET.write_text(generate(), "utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
