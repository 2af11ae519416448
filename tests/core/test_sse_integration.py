"""End to end on loopback: the SSE decoder and reconnect state read the reference server's
real event stream, byte by byte, and resume it with Last-Event-ID.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jobctl._core.sse import ServerSentEvent, SSEDecoder, SSEReconnectState
from jobctl.testing import ReferenceServer

pytestmark = pytest.mark.integration


def read_events(server: ReferenceServer, job_id: str, state: SSEReconnectState) -> list[Any]:
    url = f"{server.url}/api/jobs/{job_id}/events"
    headers = {**server.headers(), **state.request_headers()}
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    with httpx.stream("GET", url, headers=headers, timeout=10) as reply:
        if reply.status_code == 204:
            return [204]
        assert reply.headers["content-type"].startswith("text/event-stream")
        state.on_connected()
        for chunk in reply.iter_raw():
            for i in range(len(chunk)):  # one byte at a time: the worst chunking
                events.extend(decoder.feed(chunk[i : i + 1]))
        events.extend(decoder.close())
    state.update_retry(decoder.retry)
    return [ev for ev in events if state.accept(ev)]


def test_decoder_reads_the_reference_servers_stream_and_resumes(
    reference_server_session: ReferenceServer,
) -> None:
    server = reference_server_session
    reply = httpx.post(
        f"{server.url}/api/jobs",
        json={"type": "sleep", "input": {"seconds": 0.3, "steps": 3}},
        headers=server.headers(),
        timeout=10,
    )
    assert reply.status_code == 202, reply.text
    job_id = reply.json()["jobId"]
    state = SSEReconnectState()
    events = read_events(server, job_id, state)
    kinds = [ev.event for ev in events]
    assert kinds[0] == "status" and kinds[-1] == "complete"
    assert set(kinds) <= {"status", "progress", "complete"}
    ids = [int(ev.id) for ev in events]
    assert ids == sorted(set(ids))
    assert json.loads(events[-1].data)["status"] == "completed"
    assert state.retry_ms is not None and state.retry_ms > 0

    # Resume from the first event: the server replays what followed, nothing twice.
    resumed = SSEReconnectState(last_event_id=events[0].id)
    replay = read_events(server, job_id, resumed)
    assert [ev.id for ev in replay] == [ev.id for ev in events[1:]]
    # Resume from the complete event: 204, the stream is over.
    assert read_events(server, job_id, SSEReconnectState(last_event_id=events[-1].id)) == [204]
