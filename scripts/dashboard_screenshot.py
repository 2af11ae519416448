"""Regenerate ``docs/dashboard.png``: the dashboard with a job in every state.

Starts a reference server with two workers, makes jobs that end completed, failed and
cancelled, keeps both workers busy (two running jobs) so one more stays pending, signs
in with Debian's Chromium (Playwright, never a downloaded browser) and saves the page.

    python scripts/dashboard_screenshot.py [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

from jobctl.testing import ReferenceServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import ARGS, chromium_path  # noqa: E402


def _wait(c: httpx.Client, job: str, *statuses: str) -> None:
    deadline = time.monotonic() + 30
    while c.get(f"/api/jobs/{job}").json()["status"] not in statuses:
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job} never reached {statuses}")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "dashboard.png"))
    out = Path(parser.parse_args().out)
    executable = chromium_path()
    if executable is None:
        print("error: no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with ReferenceServer(args=("--workers", "2", "--quiet")) as server:
        c = httpx.Client(base_url=server.url, headers=server.headers(), timeout=10)

        def submit(job_type: str, **values: object) -> str:
            body = {"type": job_type, "input": values}
            return str(c.post("/api/jobs", json=body).json()["jobId"])

        done = submit("report", pages=3, format="csv", secondsPerPage=0)
        _wait(c, done, "completed")
        failed = submit("fail", code="disk_full", message="no space left on /data", retryable=True)
        _wait(c, failed, "failed")
        cancelled = submit("sleep", seconds=60, steps=60)
        _wait(c, cancelled, "processing")
        time.sleep(1.2)
        c.delete(f"/api/jobs/{cancelled}")
        _wait(c, cancelled, "cancelled")
        echo = submit("echo", greeting="hello")
        _wait(c, echo, "completed")
        for _ in range(2):  # both workers busy from here on
            submit("report", pages=40, format="pdf", secondsPerPage=0.5)
        pending = submit("sleep", seconds=5)

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(server.url + "/")
            page.fill("#token", server.token)
            page.press("#token", "Enter")
            page.wait_for_selector(f'li.job[data-job-id="{pending}"][data-status="pending"]')
            page.wait_for_function("() => document.getElementById('live').textContent === 'live'")
            page.select_option("#job-type", "report")
            failed_row = page.locator(f'li.job[data-job-id="{failed}"]')
            failed_row.get_by_role("button", name="Events").click()  # its event log
            page.wait_for_selector(f'li.job[data-job-id="{failed}"] .log li >> nth=2')
            time.sleep(3)  # the running reports move on
            page.locator("#job-type").blur()
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
        c.close()
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
