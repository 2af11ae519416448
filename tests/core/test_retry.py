"""The pure retry rules: Retry-After in both forms, server hints, transport retry decisions."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from jobctl._core.polling import PollPolicy
from jobctl._core.retry import (
    MAX_HINT_SECONDS,
    Failure,
    FailureKind,
    RetryPolicy,
    Rule,
    classify,
    decide,
    extract_hints,
    parse_retry_after,
    parse_timestamp,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def http_date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def test_retry_after_delta_seconds() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after("  0 ", NOW) == 0.0


def test_retry_after_negative_is_zero_and_absurd_is_clamped() -> None:
    assert parse_retry_after("-1", NOW) == 0.0
    assert parse_retry_after(str(10**12), NOW) == MAX_HINT_SECONDS


def test_retry_after_http_date_future_and_past() -> None:
    assert parse_retry_after(http_date(NOW + 30), NOW) == 30.0
    assert parse_retry_after(http_date(NOW - 3600), NOW) == 0.0
    assert parse_retry_after(http_date(NOW + 10**9), NOW) == MAX_HINT_SECONDS


def test_retry_after_obsolete_date_forms() -> None:
    assert parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0 - 7) == 7.0
    assert parse_retry_after("Sun Nov  6 08:49:37 1994", 784111777.0 - 7) == 7.0


def test_retry_after_malformed_gives_none() -> None:
    for bad in (None, "", "soon", "1.5e9x", "Fri, 99 Foo 2026 25:61:00 GMT", "x" * 500, "--5"):
        assert parse_retry_after(bad, NOW) is None


@given(st.text(max_size=300))
def test_retry_after_garbage_never_raises(value: str) -> None:
    result = parse_retry_after(value, NOW)
    assert result is None or 0.0 <= result <= MAX_HINT_SECONDS


@given(st.integers(min_value=-(10**40), max_value=10**40))
def test_retry_after_any_integer_is_clamped(n: int) -> None:
    result = parse_retry_after(str(n), NOW)
    if len(str(abs(n))) <= 30:
        assert result == max(0.0, min(MAX_HINT_SECONDS, float(n)))
    else:
        assert result is None or 0 <= result <= MAX_HINT_SECONDS


def test_hints_header_first_then_body() -> None:
    assert extract_hints({"Retry-After": "3"}, {"retryAfter": 9}, NOW).retry_after == 3.0
    assert extract_hints({}, {"retryAfter": 9}, NOW).retry_after == 9.0
    assert extract_hints({"retry-after": "junk"}, {"retryAfter": 2.5}, NOW).retry_after == 2.5
    assert extract_hints({}, {"retryAfter": True}, NOW).retry_after is None
    assert extract_hints({}, "not a dict", NOW).retry_after is None


def test_hints_estimated_completion_is_an_upper_bound() -> None:
    eta = datetime.fromtimestamp(NOW + 4, UTC).isoformat().replace("+00:00", "Z")
    hints = extract_hints({}, {"estimatedCompletion": eta}, NOW)
    assert hints.upper == 4.0
    past = extract_hints({}, {"estimatedCompletion": "2000-01-01T00:00:00Z"}, NOW)
    assert past.upper == 0.0
    assert extract_hints({}, {"estimatedCompletion": "garbage"}, NOW).upper is None


def test_parse_timestamp_forms() -> None:
    assert (
        parse_timestamp("2026-11-27T17:40:00.123Z")
        == datetime(2026, 11, 27, 17, 40, 0, 123000, tzinfo=UTC).timestamp()
    )
    assert parse_timestamp(42) is None
    assert parse_timestamp("2026-13-01") is None


POLICY = RetryPolicy.for_client(4, PollPolicy())
ROWS = [
    POLICY.request,
    POLICY.in_flight,
    POLICY.stream_refused,
    POLICY.stream_drop,
    POLICY.poll_outage,
    POLICY.download_cut,
]


def test_status_rules() -> None:
    def retried(method: str, status: int, key: bool = False) -> bool:
        return classify(method, Failure(status=status), keyed=key) is None

    for status in (429, 502, 503, 504):
        assert retried("GET", status)
        assert retried("POST", status, key=True)
        assert not retried("POST", status, key=False)
    assert retried("GET", 500) and retried("DELETE", 500)
    assert not retried("POST", 500, key=True)  # our own submit: a 500 is a server bug
    # a keyed request of any async API is as repeatable as a PUT (OPERATIONS.md)
    assert classify("POST", Failure(status=500), keyed=True, repeatable=True) is None
    assert classify("POST", Failure(kind="read"), keyed=False, repeatable=True) is None
    for status in (200, 202, 303, 400, 401, 404, 409, 422, 501):
        assert not retried("GET", status)


def test_failure_rules() -> None:
    def retried(method: str, kind: FailureKind, key: bool = False) -> bool:
        return classify(method, Failure(kind=kind), keyed=key) is None

    assert retried("GET", "read") and retried("GET", "timeout") and retried("GET", "protocol")
    assert retried("POST", "connect")  # never sent: safe without a key
    assert not retried("POST", "protocol") and retried("POST", "protocol", key=True)
    assert not retried("GET", "other")
    assert "without Idempotency-Key" in (classify("POST", Failure(503), keyed=False) or "")


def test_gives_up_after_max_retries_and_says_why() -> None:
    last = decide(POLICY.request, 4, rand=0.5, what="status 503")
    assert last.retry and "retry 4/4" in last.reason and last.reason.startswith("status 503")
    over = decide(POLICY.request, 5, rand=0.5)
    assert not over.retry and "gave up after 4 retries" in over.reason
    assert RetryPolicy.for_client(0, PollPolicy()).request.retries == 0


def test_retry_after_is_honoured_and_capped() -> None:
    d = decide(POLICY.request, 1, rand=0.0, retry_after=7)
    assert d.delay == 7.0 and "Retry-After" in d.reason
    assert decide(POLICY.request, 1, rand=0.5, retry_after=10**12).delay == 30.0
    assert decide(POLICY.in_flight, 1, rand=0.5, retry_after=60).delay == 5.0
    # rows without a hint cap ignore Retry-After
    assert decide(POLICY.download_cut, 1, rand=0.5, retry_after=60).delay == 0.375


def test_the_deadline_stops_retries_and_cuts_pauses() -> None:
    gone = decide(POLICY.request, 1, rand=0.5, left=0.0)
    assert not gone.retry and "deadline has passed" in gone.reason
    cut = decide(POLICY.request, 3, rand=0.5, retry_after=20, left=2.5)
    assert cut.retry and cut.delay == 2.5 and "cut to the deadline" in cut.reason


def test_the_table_rows_have_the_documented_pauses() -> None:
    def pauses(rule: Rule, rand: float = 0.5, first: float | None = None) -> list[float | None]:
        out: list[float | None] = []
        for n in range(1, rule.retries + 2):
            d = decide(rule, n, rand=rand, first=first)
            out.append(d.delay if d.retry else None)
        return out

    assert pauses(POLICY.request) == [0.375, 0.75, 1.5, 3.0, None]
    assert pauses(POLICY.in_flight) == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0, None]
    assert pauses(POLICY.stream_refused)[:5] == [0.375, 0.75, 1.5, 3.0, 3.0]
    assert len(pauses(POLICY.stream_refused)) == 4 * 4 + 1
    assert pauses(POLICY.stream_drop) == [1.0, 1.5, 2.25, 3.375, None]
    assert pauses(POLICY.stream_drop, first=4.0) == [4.0, 6.0, 9.0, 13.5, None]
    assert pauses(POLICY.stream_drop, first=60.0)[:2] == [60.0, 60.0]  # a long retry: is honoured
    assert pauses(POLICY.stream_drop, first=0.0)[0] == 0.0
    assert pauses(POLICY.poll_outage) == [1.5, 2.25, 3.375, None]
    assert pauses(POLICY.download_cut) == pauses(POLICY.request)


@given(
    row=st.sampled_from(ROWS),
    attempt=st.integers(min_value=1, max_value=10_000),
    rand=st.floats(min_value=0, max_value=1),
    hint=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    left=st.none() | st.floats(min_value=-10, max_value=1e6),
)
def test_delays_are_bounded(
    row: Rule, attempt: int, rand: float, hint: float | None, left: float | None
) -> None:
    d = decide(row, attempt, rand=rand, retry_after=hint, left=left)
    if attempt > row.retries or (left is not None and left <= 0):
        assert not d.retry and d.delay == 0.0
        return
    assert d.retry
    top = max(row.cap * (1 + row.spread), row.hint_cap or 0.0)
    assert 0.0 <= d.delay <= top and not math.isnan(d.delay)
    if left is not None:
        assert d.delay <= left
    elif hint is not None and not math.isnan(hint) and row.hint_cap is not None:
        assert d.delay >= min(row.hint_cap, max(0.0, min(hint, MAX_HINT_SECONDS)))


@given(st.integers(min_value=1, max_value=64), st.floats(min_value=0, max_value=1))
def test_backoff_grows_then_caps(attempt: int, rand: float) -> None:
    delay = POLICY.request.pause(attempt, rand)
    top = min(30.0, 0.5 * 2 ** (attempt - 1))
    assert top / 2 <= delay <= top
