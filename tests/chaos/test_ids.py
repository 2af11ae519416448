"""Ids that are paths (hardening, class 3): refused before any request, SDK and CLI alike.

A job id becomes a path segment (``/api/jobs/{id}``); ``.``, ``..``, a slash, a
backslash, their percent-escapes or a control character would name another
resource (``DELETE /api/jobs`` on an API where that deletes everything).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from jobctl import AsyncJobsClient, InvalidArgumentError, Job, JobsClient, ProtocolError

from .rawserver import RawServer, Reply, Seen
from .support import cli_env, run_cli

API = "http://api.test"
BAD_IDS = [
    "",
    " ",
    ".",
    "..",
    " .. ",
    "a/b",
    "../x",
    "a\\b",
    "%2F",
    "%2f..",
    "%2E%2E",
    "%252F",
    "%5c",
    "x\x00y",
    "x\x1b[2J",
    "line\nbreak",
    "tab\there",
    "\x7f",
]
BAD_URLS = [
    "http://h/api/jobs/..",
    "http://h/api/jobs/%2e%2e",
    "http://h/api/jobs/a%2Fb",
    "http://h",
    "http://h/",
]


def calls(client: JobsClient, ref: str, tmp: Path) -> list[Any]:
    return [
        lambda: client.get(ref),
        lambda: client.wait(ref, timeout=1),
        lambda: client.cancel(ref),
        lambda: client.retry(ref),
        lambda: list(client.events(ref)),
        lambda: client.download(ref, tmp / "out"),
    ]


@pytest.mark.parametrize("ref", BAD_IDS + BAD_URLS)
def test_the_sdk_refuses_before_sending(ref: str, tmp_path: Path) -> None:
    with respx.mock(assert_all_mocked=True) as mock, JobsClient(API, "t") as client:
        for call in calls(client, ref, tmp_path):
            with pytest.raises(InvalidArgumentError) as info:
                call()
            assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
        assert mock.calls.call_count == 0
    assert list(tmp_path.iterdir()) == []


def test_the_async_client_refuses_too() -> None:
    async def main() -> None:
        async with AsyncJobsClient(API, "t") as client:
            for ref in ("..", "%2F", "a/b"):
                with pytest.raises(InvalidArgumentError):
                    await client.cancel(ref)

    with respx.mock(assert_all_mocked=True) as mock:
        asyncio.run(main())
        assert mock.calls.call_count == 0


@pytest.mark.parametrize("bad", ["..", "a/b", "%2F", ""])
def test_a_server_that_names_a_path_as_an_id_is_a_protocol_error(bad: str) -> None:
    with respx.mock(assert_all_mocked=True) as mock, JobsClient(API, "t") as client:
        mock.post(f"{API}/api/jobs").mock(
            return_value=httpx.Response(202, json={"jobId": bad, "status": "pending"})
        )
        with pytest.raises(ProtocolError):
            client.submit("echo")
    with pytest.raises(ValueError):
        Job(job_id=bad)


def test_ordinary_ids_still_work() -> None:
    with respx.mock(assert_all_mocked=True) as mock, JobsClient(API, "t") as client:
        for ok in ("abc", "a.b", "...x", "a%41", "ü-1", "a?b"):
            mock.get(url__regex=r".*/api/jobs/.*").mock(
                return_value=httpx.Response(200, json={"jobId": ok, "status": "pending"})
            )
            assert client.get(ok).job_id == ok


CLI_COMMANDS = [
    ["status"],
    ["wait"],
    ["cancel"],
    ["retry"],
    ["result"],
    ["events"],
    ["wait", "ok-id"],
]


@pytest.mark.parametrize("bad", [".", "..", "a/b", "%2F", "%2e%2e", "x\x1b[2J"])
@pytest.mark.parametrize("command", CLI_COMMANDS, ids=lambda c: " ".join(c))
def test_the_cli_says_usage_and_sends_nothing(bad: str, command: list[str], tmp_path: Path) -> None:
    def route(req: Seen) -> Reply:
        return Reply(200, json.dumps({"jobId": "ok-id", "status": "completed"}).encode())

    with RawServer(route) as server:
        work = tmp_path / "work"
        work.mkdir()
        result = run_cli([*command, bad], cli_env(server.url, "t", tmp_path), work)
        assert result.code == 2, result
        assert result.err.startswith("error: ") and "Traceback" not in result.err
        assert "\x1b" not in result.err
        assert server.seen == []
    assert list(work.iterdir()) == []  # nothing left behind (no staging directory)
