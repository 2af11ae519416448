"""SSEReconnectState: Last-Event-ID, duplicates after a resume, delays, fallback to polling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobctl._core.polling import PollPolicy
from jobctl._core.retry import RetryPolicy, decide
from jobctl._core.sse import ServerSentEvent, SSEDecoder, SSEReconnectState


def ev(id: str | None, retry: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(event="progress", data="{}", id=id, retry=retry)


def test_first_request_headers_have_no_last_event_id() -> None:
    assert SSEReconnectState().request_headers() == {
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
    }


def test_last_event_id_sent_after_an_event() -> None:
    state = SSEReconnectState()
    assert state.accept(ev("3"))
    assert state.request_headers()["Last-Event-ID"] == "3"
    assert state.last_event_id == "3"


def test_seeded_last_event_id_is_sent_and_older_ids_are_duplicates() -> None:
    state = SSEReconnectState(last_event_id="10")
    assert state.request_headers()["Last-Event-ID"] == "10"
    assert not state.accept(ev("10"))
    assert not state.accept(ev("9"))
    assert state.accept(ev("11"))


def test_empty_seed_means_no_id() -> None:
    assert SSEReconnectState(last_event_id="").last_event_id is None


@pytest.mark.parametrize("bad", ["é1", "a\tb", "a\x7fb"])
def test_id_that_cannot_travel_in_a_header_is_left_out(bad: str) -> None:
    state = SSEReconnectState()
    assert state.accept(ev(bad))
    assert "Last-Event-ID" not in state.request_headers()


def test_integer_ids_replayed_after_resume_are_duplicates() -> None:
    state = SSEReconnectState()
    assert [state.accept(ev(i)) for i in ["1", "2", "3"]] == [True, True, True]
    # The server replays from Last-Event-ID 2 and a snapshot repeats id 3.
    assert [state.accept(ev(i)) for i in ["3", "2", "4"]] == [False, False, True]
    assert state.last_event_id == "4"


def test_integer_ids_compare_as_numbers_not_strings() -> None:
    state = SSEReconnectState()
    assert state.accept(ev("9"))
    assert state.accept(ev("10"))
    assert not state.accept(ev("010"))


def test_opaque_ids_are_duplicates_only_when_seen() -> None:
    state = SSEReconnectState()
    assert state.accept(ev("b"))
    assert state.accept(ev("a"))
    assert not state.accept(ev("b"))
    assert state.last_event_id == "a"


def test_event_without_id_is_accepted_and_keeps_last_id() -> None:
    state = SSEReconnectState()
    state.accept(ev("5"))
    assert state.accept(ev(None))
    assert state.accept(ev(None))
    assert state.last_event_id == "5"


def test_retry_taken_from_events_and_from_decoder() -> None:
    state = SSEReconnectState()
    state.accept(ev("1", retry=2500))
    assert state.retry_ms == 2500
    assert state.retry_seconds == 2.5
    dec = SSEDecoder()
    dec.feed(b"retry: 700\n\n")
    state.update_retry(dec.retry)
    state.update_retry(None)
    assert state.retry_ms == 700


def test_retry_of_a_duplicate_event_still_counts() -> None:
    state = SSEReconnectState()
    state.accept(ev("4"))
    assert not state.accept(ev("4", retry=50))
    assert state.retry_ms == 50


DROP = RetryPolicy.for_client(4, PollPolicy()).stream_drop


def drop(state: SSEReconnectState) -> float | None:
    """What the follower does on a drop: count it, ask the retry table's stream_drop row."""
    d = decide(DROP, state.on_drop(), rand=0.5, first=state.retry_seconds)
    return d.delay if d.retry else None


def test_drop_delays_default_grow_and_give_up() -> None:
    state = SSEReconnectState()
    assert [drop(state) for _ in range(6)] == [1.0, 1.5, 2.25, 3.375, None, None]


def test_drop_delays_use_server_retry() -> None:
    state = SSEReconnectState()
    state.update_retry(4000)
    assert state.retry_seconds == 4.0
    assert [drop(state) for _ in range(5)] == [4.0, 6.0, 9.0, 13.5, None]


def test_growth_stops_at_the_cap_but_a_larger_server_retry_is_honoured() -> None:
    state = SSEReconnectState()
    state.update_retry(20_000)
    assert [drop(state) for _ in range(4)] == [20.0, 30.0, 30.0, 30.0]
    state = SSEReconnectState()
    state.update_retry(60_000)
    assert drop(state) == 60.0
    assert drop(state) == 60.0


def test_zero_retry_gives_zero_delay() -> None:
    state = SSEReconnectState()
    state.update_retry(0)
    assert drop(state) == 0.0


def test_new_event_resets_the_consecutive_drops() -> None:
    state = SSEReconnectState()
    state.accept(ev("1"))
    assert drop(state) == 1.0
    assert drop(state) == 1.5
    state.on_connected()
    assert state.accept(ev("2"))
    assert drop(state) == 1.0
    assert state.failures == 1


def test_connections_without_new_events_still_count_as_failures() -> None:
    state = SSEReconnectState()
    state.accept(ev("7"))
    results = []
    for _ in range(5):
        state.on_connected()
        state.accept(ev("7"))  # the resume replays only what we already have
        results.append(drop(state))
    assert results == [1.0, 1.5, 2.25, 3.375, None]
    assert state.connections == 5


# --- properties ----------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.integers(min_value=0, max_value=50)),
        st.tuples(st.just("drop"), st.none()),
        st.tuples(st.just("connect"), st.none()),
        st.tuples(st.just("retry"), st.integers(min_value=0, max_value=100_000)),
    ),
    max_size=80,
)


@given(operations)
def test_model_of_ids_and_drops(ops: list[tuple[str, int | None]]) -> None:
    max_failures = DROP.retries + 1
    state = SSEReconnectState()
    highest: int | None = None
    drops = 0
    retry_ms: int | None = None
    for op, arg in ops:
        if op == "event":
            assert arg is not None
            new = highest is None or arg > highest
            assert state.accept(ev(str(arg))) is new
            if new:
                highest, drops = arg, 0
            assert state.last_event_id == (None if highest is None else str(highest))
        elif op == "retry":
            state.update_retry(arg)
            retry_ms = arg
        elif op == "connect":
            state.on_connected()
        else:
            drops += 1
            delay = drop(state)
            if drops >= max_failures:
                assert delay is None
            else:
                assert delay is not None
                base = 1.0 if retry_ms is None else retry_ms / 1000
                assert delay >= 0.0
                assert base <= delay <= max(base, DROP.cap)


@given(st.lists(st.integers(min_value=0, max_value=10**6), max_size=60))
def test_last_event_id_never_goes_backwards(ids: list[int]) -> None:
    state = SSEReconnectState()
    previous = -1
    accepted: list[int] = []
    for i in ids:
        if state.accept(ev(str(i))):
            accepted.append(i)
        assert state.last_event_id is None or int(state.last_event_id) >= previous
        previous = -1 if state.last_event_id is None else int(state.last_event_id)
    assert accepted == sorted(set(accepted))
    assert accepted == [i for n, i in enumerate(ids) if all(i > j for j in ids[:n])]
