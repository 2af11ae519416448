"""The seed's own browser client (``/examples/eventsource.html``) in a real Chromium.

The page runs the pattern's ``EventSource`` snippet unchanged but for its URL, a ticketed
events URL from ``client.events_ticket()`` handed over in the page's fragment. It must
run to ``complete`` and follow ``resultUrl``; heal a cut stream by itself with
``Last-Event-ID`` (the server replays what followed instead of a fresh snapshot); and
no request it makes may carry an API token.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from jobctl import JobsClient
from jobctl.testing import ReferenceServer

pytestmark = pytest.mark.integration

# Test instrumentation (not part of the page): records every event each EventSource
# connection delivers, numbering connections by their ``open``.
RECORD = """
(() => {
  const Original = window.EventSource;
  window.__events = [];
  window.EventSource = class extends Original {
    constructor(url, init) {
      super(url, init);
      let connection = 0;
      this.addEventListener('open', () => { connection += 1; });
      for (const name of ['status', 'progress', 'complete']) {
        this.addEventListener(name, (e) => {
          const id = Number(e.lastEventId);
          window.__events.push({connection, name, id, data: JSON.parse(e.data)});
        });
      }
    }
  };
})();
"""


@pytest.fixture(scope="module")
def signed() -> Iterator[ReferenceServer]:
    """Results handed out as signed URLs (``--result-base-url``): the redirect downloads."""
    port = free_port()
    args = ("--quiet", "--port", str(port), "--result-base-url", f"http://localhost:{port}")
    with ReferenceServer(args=args) as s:
        yield s


@pytest.fixture(scope="module")
def dropping() -> Iterator[ReferenceServer]:
    """Every event stream is cut after 1 to 3 events (``--faults sse-drop``)."""
    args = ("--quiet", "--faults", "sse-drop", "--fault-rate", "1", "--fault-seed", "3")
    with ReferenceServer(args=args) as s:
        yield s


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def page_url(server: ReferenceServer, events_url: str) -> str:
    return f"{server.url}/examples/eventsource.html#url={quote(events_url, safe='')}"


def no_token_in(urls: list[str], server: ReferenceServer) -> None:
    for url in urls:
        for token in server.tokens.values():
            assert token not in url, url


def test_the_seed_snippet_runs_to_complete_and_downloads_the_result(
    browser: Any, signed: ReferenceServer
) -> None:
    with JobsClient(signed.url, signed.token) as client:
        job = client.submit("sleep", {"seconds": 4.0, "steps": 4})  # still running when it opens
        url = client.events_ticket(job)
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    started = time.monotonic()
    with page.expect_download(timeout=30_000) as download:
        page.goto(page_url(signed, url))
    saved = download.value.path()
    assert json.loads(saved.read_bytes()) == {"sleptSeconds": 4.0}
    assert page.locator("#progress").evaluate("bar => bar.value") == 100
    assert page.locator("#percent").text_content() == "100 %"
    assert time.monotonic() - started < 30
    no_token_in(requests, signed)
    result = [u for u in requests if "/result" in u]
    assert result and "sig=" in result[0] and urlsplit(result[0]).hostname == "localhost"
    assert any("/events?ticket=" in u for u in requests)
    context.close()


def test_a_cut_stream_heals_itself_with_last_event_id(
    browser: Any, dropping: ReferenceServer
) -> None:
    with JobsClient(dropping.url, dropping.token) as client:
        job = client.submit("sleep", {"seconds": 2.0, "steps": 4})
        url = client.events_ticket(job)
    context = browser.new_context()
    context.add_init_script(RECORD)
    page = context.new_page()
    streams: list[dict[str, str]] = []
    answers: dict[str, int] = {}

    def on_request(request: Any) -> None:
        if f"/api/jobs/{job.id}/events?" in request.url:
            streams.append(request.all_headers())
        no_token_in([request.url], dropping)

    page.on("request", on_request)
    page.on("response", lambda r: answers.__setitem__(r.url, r.status))
    page.goto(page_url(dropping, url))
    result_url = f"{dropping.url}/api/jobs/{job.id}/result"
    page.wait_for_url(result_url, timeout=60_000)
    # the stream was cut and reopened by the browser itself, each time with Last-Event-ID
    assert len(streams) >= 2, streams
    assert "last-event-id" not in streams[0]
    assert all(s.get("last-event-id", "").isdigit() for s in streams[1:]), streams
    # the redirect to resultUrl meets the result route without a token: 401, as documented
    assert answers[result_url] == 401
    context.close()


def test_the_server_replays_after_last_event_id_instead_of_a_new_snapshot(
    browser: Any, dropping: ReferenceServer
) -> None:
    """The same cut stream, watched from the page: one snapshot, then every event once."""
    with JobsClient(dropping.url, dropping.token) as client:
        job = client.submit("sleep", {"seconds": 2.0, "steps": 4})
        url = client.events_ticket(job)
    context = browser.new_context()
    context.add_init_script(RECORD)
    page = context.new_page()
    # stay on the page at the end (a 204 navigation goes nowhere): events, not the redirect
    page.route(f"{dropping.url}/api/jobs/*/result", lambda route: route.fulfill(status=204))
    page.goto(page_url(dropping, url))
    deadline = time.monotonic() + 60  # (wait_for_function would eval: the CSP forbids it)
    while not page.evaluate("window.__events.some(e => e.name === 'complete')"):
        assert time.monotonic() < deadline, page.evaluate("window.__events")
        page.wait_for_timeout(100)
    events = page.evaluate("window.__events")
    ids = [e["id"] for e in events]
    assert max(e["connection"] for e in events) >= 2, events  # it was cut, and reopened
    # every id once, none skipped: a reconnection without Last-Event-ID would have got a
    # fresh `status` snapshot (an id seen again, or events folded into one) instead
    assert ids == list(range(ids[0], ids[0] + len(ids))), events
    done = (events[0]["data"].get("progress") or {}).get("current", 0)  # at the snapshot
    steps = [e["data"]["current"] for e in events if e["name"] == "progress"]
    assert steps == list(range(done + 1, 5)), events  # every later step once, in order
    assert [e["name"] for e in events][-1] == "complete"
    assert [e["name"] for e in events if e["connection"] > 1 and e["name"] == "status"] in (
        [],
        ["status"],  # the pending -> processing change, if it came after the first cut
    ), events
    with httpx.Client() as anon:  # and the ticket opened nothing else meanwhile
        r = anon.get(f"{dropping.url}/api/jobs/{job.id}", params={"ticket": url.split("=")[-1]})
        assert r.status_code == 401
    context.close()


def test_a_url_from_another_origin_is_refused_and_shown_as_text(
    browser: Any, signed: ReferenceServer
) -> None:
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    hostile = "http://elsewhere.invalid/<img src=x onerror=alert(1)>"
    page.goto(page_url(signed, hostile))
    problem = page.locator("#problem")
    problem.wait_for(state="visible", timeout=10_000)
    assert problem.text_content() == "the events URL must be on this server's origin"
    assert page.locator("#problem img").count() == 0
    assert not any("elsewhere" in u for u in requests)
    context.close()
