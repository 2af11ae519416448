"""The dashboard at ``/`` in a real Chromium against a real reference server.

One server, one browser and one context for the module, a new tab (so a fresh
``sessionStorage``) per test. Every test also checks, when it ends, that no request
the page made carried the token in its URL, that no dialog opened, that no script
error or Content-Security-Policy violation happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from jobctl import JobsClient
from jobctl.testing import ReferenceServer

pytestmark = pytest.mark.integration

XSS = "<img src=x onerror=window.__xss=alert(1)>"
TIMEOUT_MS = 15_000

# Records what must never happen: window.__csp collects CSP violations.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture(scope="module")
def server() -> Iterator[ReferenceServer]:
    with ReferenceServer(args=("--workers", "4", "--quiet")) as s:
        yield s


@pytest.fixture(scope="module")
def api(server: ReferenceServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=10) as c:
        yield c


@dataclass
class Seen:
    """What one test's page did."""

    urls: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    """One context for the module; each test gets a new tab (a fresh sessionStorage)."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.add_init_script(WATCH)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any, server: ReferenceServer, seen: Seen) -> Iterator[Any]:
    pg = context.new_page()
    pg.on("request", lambda r: seen.urls.append(r.url))

    def on_dialog(dialog: Any) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda e: seen.errors.append(str(e)))
    pg.goto(server.url + "/")
    try:
        yield pg
        csp = pg.evaluate("window.__csp")
    finally:
        pg.close()
    tokens = set(server.tokens.values()) | {"wrong-token", "revoked-token"}
    leaked = [u for u in seen.urls if any(t in u for t in tokens)]
    assert not leaked, leaked
    assert not seen.dialogs, seen.dialogs
    assert not seen.errors, seen.errors
    assert csp == [], csp


def sign_in(pg: Any, token: str) -> None:
    pg.fill("#token", token)
    pg.press("#token", "Enter")
    pg.wait_for_selector("#board", state="visible")
    pg.wait_for_selector("#job-type option", state="attached")
    pg.wait_for_function("() => document.getElementById('live').textContent === 'live'")


def row(pg: Any, job_id: str) -> Any:
    return pg.locator(f'li.job[data-job-id="{job_id}"]')


def wait_status(pg: Any, job_id: str, status: str) -> None:
    pg.wait_for_selector(f'li.job[data-job-id="{job_id}"][data-status="{status}"]')


def submit_form(pg: Any, job_type: str, **fields: str) -> str:
    """Fill the form for ``job_type`` and submit it; the new job's id."""
    pg.select_option("#job-type", job_type)
    for name, value in fields.items():
        control = pg.locator(f"#f-input-{name}")
        if control.get_attribute("type") == "checkbox":
            control.set_checked(value == "true")
        elif control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    with pg.expect_response(
        lambda r: r.url.endswith("/api/jobs") and r.request.method == "POST"
    ) as r:
        pg.click("#submit-form button[type=submit]")
    body = r.value.json()
    assert r.value.status == 202, body
    return str(body["jobId"])


def test_a_job_submitted_from_the_form_reaches_100_and_its_result_downloads(
    page: Any, server: ReferenceServer, api: httpx.Client
) -> None:
    sign_in(page, server.token)
    job = submit_form(page, "report", pages="4", format="csv", secondsPerPage="0.4")
    # live progress: the bar moves through the steps, not only from 0 to 100
    page.wait_for_function(
        f"""() => {{
          const r = document.querySelector('li.job[data-job-id="{job}"] .pct');
          return r && ['25%', '50%', '75%'].includes(r.textContent);
        }}"""
    )
    wait_status(page, job, "completed")
    assert row(page, job).locator(".pct").text_content() == "100%"
    bar = row(page, job).locator("progress")
    assert bar.evaluate("b => b.value === b.max")
    with page.expect_download() as download:
        row(page, job).get_by_role("button", name="Download result").click()
    saved = download.value.path()
    assert download.value.suggested_filename.endswith(".csv")
    with open(saved, "rb") as fh:
        assert fh.read() == api.get(f"/api/jobs/{job}/result").content


def test_a_running_job_is_cancelled_from_its_button(
    page: Any, server: ReferenceServer, api: httpx.Client
) -> None:
    sign_in(page, server.token)
    job = api.post("/api/jobs", json={"type": "sleep", "input": {"seconds": 60}}).json()["jobId"]
    wait_status(page, job, "processing")
    row(page, job).get_by_role("button", name="Cancel").click()
    wait_status(page, job, "cancelled")
    assert api.get(f"/api/jobs/{job}").json()["status"] == "cancelled"
    assert row(page, job).get_by_role("button", name="Cancel").is_hidden()


def test_a_job_submitted_by_the_sdk_appears_without_reloading(
    page: Any, server: ReferenceServer
) -> None:
    sign_in(page, server.token)
    page.evaluate("window.__same_page = true")
    with JobsClient(base_url=server.url, token=server.token) as client:
        job = client.submit("sleep", {"seconds": 0.6, "steps": 3})
    wait_status(page, job.job_id, "completed")
    assert row(page, job.job_id).locator(".pct").text_content() == "100%"
    assert page.evaluate("window.__same_page") is True  # no reload happened
    first = page.locator("li.job").first.get_attribute("data-job-id")
    assert first == job.job_id  # newest first


def test_another_users_jobs_never_show(page: Any, server: ReferenceServer) -> None:
    sign_in(page, server.token)
    bob = httpx.post(
        f"{server.url}/api/jobs",
        headers=server.headers("bob"),
        json={"type": "echo", "input": {"who": "bob"}},
    ).json()["jobId"]
    with JobsClient(base_url=server.url, token=server.token) as client:
        mine = client.submit("echo", {"who": "alice"})
    wait_status(page, mine.job_id, "completed")
    assert row(page, bob).count() == 0


def test_a_wrong_token_stays_on_sign_in(page: Any) -> None:
    page.fill("#token", "wrong-token")
    page.click("#sign-in-form button")
    page.wait_for_function("() => document.getElementById('sign-in-error').textContent !== ''")
    assert "did not accept" in page.text_content("#sign-in-error")
    assert page.is_hidden("#board")
    assert page.evaluate("sessionStorage.length") == 0


def test_an_expired_token_sends_the_user_back_to_sign_in(
    page: Any, server: ReferenceServer
) -> None:
    sign_in(page, server.token)
    assert page.evaluate("Object.values(sessionStorage)") == [server.token]
    # the server stops accepting it (as when a token expires or is revoked)
    page.evaluate("sessionStorage.setItem('jobctl.dashboard.token', 'revoked-token')")
    submit_echo = page.get_by_role("button", name="Submit")
    page.select_option("#job-type", "echo")
    submit_echo.click()
    page.wait_for_selector("#sign-in", state="visible")
    assert "401" in page.text_content("#sign-in-error")
    assert page.evaluate("sessionStorage.length") == 0
    # a reload with a token the server refuses ends on sign-in too
    page.evaluate("sessionStorage.setItem('jobctl.dashboard.token', 'revoked-token')")
    page.reload()
    page.wait_for_selector("#sign-in", state="visible")
    assert page.is_hidden("#board")


def test_the_token_is_never_in_a_url_and_the_stream_uses_a_ticket(
    page: Any, server: ReferenceServer, seen: Seen
) -> None:
    sign_in(page, server.token)
    job = submit_form(page, "sleep", seconds="0.3", steps="2")
    wait_status(page, job, "completed")
    row(page, job).get_by_role("button", name="Events").click()
    page.wait_for_function(
        f"""() => document.querySelectorAll('li.job[data-job-id="{job}"] .log li').length >= 3"""
    )
    with page.expect_download():
        row(page, job).get_by_role("button", name="Download result").click()
    streams = [u for u in seen.urls if "/api/events" in u and "ticket=" in u]
    assert streams, seen.urls
    assert all("events-ticket" not in u for u in streams)
    assert server.token not in json.dumps(seen.urls)  # and the fixture checks every test


def test_html_from_the_network_is_shown_as_text(
    page: Any, server: ReferenceServer, api: httpx.Client
) -> None:
    sign_in(page, server.token)
    echo = api.post("/api/jobs", json={"type": "echo", "input": {"note": XSS}}).json()["jobId"]
    fail = api.post(
        "/api/jobs", json={"type": "fail", "input": {"message": XSS, "code": XSS}}
    ).json()["jobId"]
    page.select_option("#job-type", "echo")
    page.fill("#f-input", json.dumps({"form": XSS}))
    with page.expect_response(lambda r: r.url.endswith("/api/jobs")) as r:
        page.click("#submit-form button[type=submit]")
    typed = r.value.json()["jobId"]
    for job in (echo, fail, typed):
        wait_status(page, job, "failed" if job == fail else "completed")
    assert XSS in row(page, echo).locator(".message").text_content()
    assert XSS in row(page, typed).locator(".message").text_content()
    assert row(page, fail).locator(".message").text_content() == f"{XSS}: {XSS}"
    row(page, fail).get_by_role("button", name="Events").click()
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('li.job[data-job-id="{fail}"] .log li')]
            .some((li) => li.textContent.includes({json.dumps(XSS)}))"""
    )
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_validation_errors_are_shown_next_to_their_field(
    page: Any, server: ReferenceServer
) -> None:
    sign_in(page, server.token)
    page.select_option("#job-type", "sleep")
    page.fill("#f-input-seconds", "soon")
    page.fill("#f-input-steps", "0")
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector("#f-input-seconds[aria-invalid=true]")
    assert page.text_content("#f-input-seconds-error")
    assert page.text_content("#f-input-steps-error")
    assert page.get_attribute("#f-input-steps", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "f-input-seconds"
    page.select_option("#job-type", "echo")
    page.fill("#f-input", "{not json")
    page.click("#submit-form button[type=submit]")
    assert page.text_content("#f-input-error") == "not valid JSON"


def test_a_failed_job_is_retried_from_its_button(
    page: Any, server: ReferenceServer, api: httpx.Client
) -> None:
    sign_in(page, server.token)
    flaky = {"type": "flaky", "input": {"failTimes": 1}}
    failed = api.post("/api/jobs", json=flaky).json()["jobId"]
    wait_status(page, failed, "failed")
    with page.expect_response(lambda r: r.url.endswith("/retry")) as r:
        row(page, failed).get_by_role("button", name="Retry").click()
    retried = r.value.json()["jobId"]
    wait_status(page, retried, "completed")


def test_the_stream_heals_cut_streams_and_renews_its_ticket(
    page: Any, server: ReferenceServer, api: httpx.Client, seen: Seen
) -> None:
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    sleep = {"type": "sleep", "input": {"seconds": 0.4, "steps": 2}}
    tickets = lambda: sum(1 for u in seen.urls if u.endswith("/api/events-ticket"))  # noqa: E731
    # every stream is cut after 1-3 events: the browser resumes it with Last-Event-ID
    settings = {"faultRate": 1.0, "faults": ["sse-drop"], "faultSeed": 7}
    assert api.put("/api/_faults", json=settings, headers=admin).status_code == 200
    try:
        sign_in(page, server.token)
        job = api.post("/api/jobs", json=sleep).json()["jobId"]
        wait_status(page, job, "completed")
        assert tickets() == 1  # healed without a new ticket
        # now the ticket is refused for good (as after its 60 s): a fresh ticket is asked for
        page.route("**/api/events?ticket=*", lambda route: route.fulfill(status=401, body=""))
        api.post("/api/jobs", json=sleep)
        deadline = time.monotonic() + 10
        while tickets() < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert tickets() >= 2
    finally:
        api.put("/api/_faults", json={"faultRate": 0.0}, headers=admin)
        page.unroute("**/api/events?ticket=*")
    page.wait_for_function("() => document.getElementById('live').textContent === 'live'")
    later = api.post("/api/jobs", json={"type": "echo", "input": {}}).json()["jobId"]
    wait_status(page, later, "completed")


def test_usable_at_360_px_and_with_the_keyboard(
    page: Any, server: ReferenceServer, api: httpx.Client
) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    # keyboard only: the token field has focus, Enter signs in
    assert page.evaluate("document.activeElement.id") == "token"
    page.keyboard.type(server.token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#board", state="visible")
    long = {"type": "fail", "input": {"message": "x" * 400, "code": "a-very-long-code" * 6}}
    job = api.post("/api/jobs", json=long).json()["jobId"]
    wait_status(page, job, "failed")
    assert page.evaluate("document.activeElement.id") == "job-type"  # the form's first field
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-input-seconds"
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


def test_the_dashboard_answers_with_a_strict_policy(server: ReferenceServer) -> None:
    for path in ("/", "/dashboard/app.js", "/dashboard/style.css"):
        r = httpx.get(server.url + path)
        assert r.status_code == 200
        policy = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "unsafe-inline" not in policy
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert httpx.get(server.url + "/dashboard/../app.py").status_code == 404
    assert httpx.get(server.url + "/dashboard/nothing.js").status_code == 404
