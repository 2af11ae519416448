"""Browser tests: Debian's Chromium (``/usr/bin/chromium``) driven headless by Playwright.

One browser per test module (a new context per test is cheap); Playwright never
downloads a browser here. Without Chromium or Playwright the tests skip with one line.

Not one per session: Playwright's sync API keeps its asyncio loop marked as running
on the main thread while it is open, so every ``asyncio.run()`` of a later test in
the same process (the SDK's async tests, under ``pytest -n 2`` in the same worker)
fails with "cannot be called from a running event loop". Closed at the end of each
module, it clears that mark; a launch costs about a second.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's Chromium, or another ``chromium`` on PATH."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The module's Chromium (a Playwright ``Browser``), closed when the module ends."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()
