"""``/examples/``: the seed's browser client as package data, with a strict CSP."""

from __future__ import annotations

from importlib import resources

import httpx

from jobctl.testing import ReferenceServer
from mock_server.http.examples import EXAMPLES

from .conftest import assert_problem


def test_examples_are_served_without_a_token_and_with_a_csp(server: ReferenceServer) -> None:
    with httpx.Client(base_url=server.url) as anon:
        for name, media in EXAMPLES.items():
            r = anon.get(f"/examples/{name}")
            assert r.status_code == 200 and r.headers["content-type"] == media
            assert "script-src 'self'" in r.headers["content-security-policy"]
            assert r.headers["x-content-type-options"] == "nosniff"
        assert_problem(anon.get("/examples/../app.py"), 404)
        assert_problem(anon.get("/examples/nothing.html"), 404)
    assert "/examples/{name}" not in httpx.get(f"{server.url}/openapi.json").text


def test_the_seed_snippet_is_the_seeds_but_for_its_url() -> None:
    seed = (resources.files("mock_server.http") / "example_pages" / "seed.js").read_text()
    assert "new EventSource(url);" in seed
    for line in (
        "eventSource.addEventListener('status', (e) => {",
        "  updateProgressBar(data.current / data.total * 100);",
        "  eventSource.close();",
        "  window.location.href = data.resultUrl;",
    ):
        assert line in seed
    page = (resources.files("mock_server.http") / "example_pages" / "eventsource.js").read_text()
    assert "innerHTML" not in page + seed  # network strings reach the page as text only
