"""The pure retry rules: Retry-After in both forms, server hints, transport retry decisions."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from jobctl._core.retry import (
    MAX_HINT_SECONDS,
    backoff_delay,
    decide_retry,
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


def test_status_rules() -> None:
    def retried(method: str, status: int, key: bool = False) -> bool:
        return decide_retry(
            method=method, attempt=1, max_retries=4, status=status, has_idempotency_key=key
        ).retry

    for status in (429, 502, 503, 504):
        assert retried("GET", status)
        assert retried("POST", status, key=True)
        assert not retried("POST", status, key=False)
    assert retried("GET", 500) and retried("DELETE", 500)
    assert not retried("POST", 500, key=True)
    for status in (200, 202, 303, 400, 401, 404, 409, 422, 501):
        assert not retried("GET", status)


def test_failure_rules() -> None:
    def retried(method: str, failure: str, key: bool = False) -> bool:
        return decide_retry(
            method=method,
            attempt=1,
            max_retries=4,
            failure=failure,  # type: ignore[arg-type]
            has_idempotency_key=key,
        ).retry

    assert retried("GET", "read") and retried("GET", "timeout") and retried("GET", "protocol")
    assert retried("POST", "connect")  # never sent: safe without a key
    assert not retried("POST", "protocol") and retried("POST", "protocol", key=True)
    assert not retried("GET", "other")


def test_gives_up_after_max_retries_and_says_why() -> None:
    last = decide_retry(method="GET", attempt=4, max_retries=4, status=503)
    assert last.retry and "retry 4/4" in last.reason
    over = decide_retry(method="GET", attempt=5, max_retries=4, status=503)
    assert not over.retry and "gave up after 4 retries" in over.reason
    no_key = decide_retry(method="POST", attempt=1, max_retries=4, status=503)
    assert "without Idempotency-Key" in no_key.reason


def test_retry_after_is_honoured_and_capped() -> None:
    d = decide_retry(method="GET", attempt=1, max_retries=4, status=429, retry_after=7, rand=0.0)
    assert d.delay == 7.0 and "Retry-After" in d.reason
    capped = decide_retry(
        method="GET", attempt=1, max_retries=4, status=429, retry_after=10**12, cap=30.0
    )
    assert capped.delay == 30.0


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    rand=st.floats(min_value=0, max_value=1),
    hint=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    cap=st.floats(min_value=0.1, max_value=120),
)
def test_delays_are_bounded(attempt: int, rand: float, hint: float | None, cap: float) -> None:
    d = decide_retry(
        method="GET",
        attempt=attempt,
        max_retries=10_000,
        status=503,
        retry_after=hint,
        rand=rand,
        cap=cap,
    )
    assert d.retry
    assert 0.0 <= d.delay <= cap and not math.isnan(d.delay)
    if hint is not None and not math.isnan(hint):
        assert d.delay >= min(cap, max(0.0, min(hint, MAX_HINT_SECONDS)))


@given(st.integers(min_value=1, max_value=64), st.floats(min_value=0, max_value=1))
def test_backoff_grows_then_caps(attempt: int, rand: float) -> None:
    delay = backoff_delay(attempt, rand, base=0.5, cap=30.0)
    top = min(30.0, 0.5 * 2 ** (attempt - 1))
    assert top / 2 <= delay <= top
