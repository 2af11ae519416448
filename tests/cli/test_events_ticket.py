"""``jobctl events --ticket JOB``: a browser-usable events URL on stdout, no token in it."""

from __future__ import annotations

import json

import httpx
import pytest

from jobctl.testing import ReferenceServer

from .conftest import Cli

pytestmark = pytest.mark.integration


def test_ticket_prints_a_url_that_opens_the_stream_without_a_token(
    cli: Cli, reference_server_session: ReferenceServer
) -> None:
    job = cli("submit", "echo", "-p", "n=1", "--wait", "-q").out.strip()
    r = cli("events", "--ticket", job)
    assert r.code == 0, r.err
    url = r.out.strip()
    assert url.startswith(f"{reference_server_session.url}/api/jobs/{job}/events?ticket=")
    assert reference_server_session.token not in r.out + r.err
    assert "60 s" in r.err
    body = httpx.get(url, headers={"Accept": "text/event-stream"}, timeout=30)
    assert body.status_code == 200 and "event: complete" in body.text
    as_json = json.loads(cli("events", job, "--ticket", "--json").out)
    assert as_json["url"].startswith(url.split("?")[0] + "?ticket=")
    assert cli("events", "--ticket", "--last").code == 0


def test_ticket_for_an_unknown_job_is_not_found(cli: Cli) -> None:
    r = cli("events", "--ticket", "00000000-0000-4000-8000-000000000000")
    assert r.code != 0 and r.out == ""
    assert "error:" in r.err
