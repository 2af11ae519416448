"""The pure polling rules: PollPolicy validation and the next delay, hints and deadline."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobctl._core.polling import (
    MIN_DELAY,
    PollPolicy,
    completed_from_redirect,
    event_from_job,
    long_poll_seconds,
    new_idempotency_key,
    next_delay,
    preference_applied_wait,
)
from jobctl.models import Job, JobStatus, Progress

policies = st.builds(
    PollPolicy,
    initial=st.floats(min_value=0.01, max_value=100),
    factor=st.floats(min_value=1, max_value=10),
    max_interval=st.floats(min_value=MIN_DELAY, max_value=600),
    jitter=st.floats(min_value=0, max_value=1),
    long_poll=st.floats(min_value=0, max_value=120),
)
finite = st.floats(allow_nan=False, allow_infinity=False)


def test_defaults_match_the_sdk_contract() -> None:
    assert PollPolicy() == PollPolicy(
        initial=1.0, factor=1.5, max_interval=30.0, jitter=0.1, long_poll=30.0
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"factor": 0.5},
        {"max_interval": 0.0},
        {"jitter": 1.5},
        {"long_poll": -1},
        {"initial": math.nan},
        {"max_interval": math.inf},
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="PollPolicy"):
        PollPolicy(**kwargs)


def test_computed_delays_grow_by_factor_up_to_the_cap() -> None:
    policy = PollPolicy(initial=1.0, factor=2.0, max_interval=5.0, jitter=0.0)
    delays = [next_delay(policy, n, hint=None, remaining=None, rand=0.3) for n in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_spreads_both_ways_for_computed_delays() -> None:
    policy = PollPolicy(initial=10.0, jitter=0.1)
    assert next_delay(policy, 0, hint=None, remaining=None, rand=0.0) == pytest.approx(9.0)
    assert next_delay(policy, 0, hint=None, remaining=None, rand=1.0) == pytest.approx(11.0)


def test_hint_replaces_the_computed_delay_and_is_clamped() -> None:
    policy = PollPolicy(initial=1.0, max_interval=30.0, jitter=0.0)
    assert next_delay(policy, 0, hint=7.0, remaining=None, rand=0.5) == 7.0
    assert next_delay(policy, 9, hint=0.001, remaining=None, rand=0.5) == MIN_DELAY
    assert next_delay(policy, 0, hint=10**9, remaining=None, rand=0.5) == 30.0


def test_deadline_and_estimated_completion_bound_the_delay() -> None:
    policy = PollPolicy(initial=5.0, jitter=0.0)
    assert next_delay(policy, 0, hint=None, remaining=2.0, rand=0.5) == 2.0
    assert next_delay(policy, 0, hint=None, remaining=0.01, rand=0.5) == 0.01
    assert next_delay(policy, 0, hint=None, remaining=-3, rand=0.5) == 0.0
    assert next_delay(policy, 0, hint=20.0, remaining=None, rand=0.5, upper=3.0) == 3.0


@given(
    policy=policies,
    attempt=st.integers(min_value=-5, max_value=10_000),
    hint=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    remaining=st.none() | finite,
    rand=st.floats(min_value=0, max_value=1),
    upper=st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
def test_delay_never_negative_never_past_cap_or_deadline(
    policy: PollPolicy,
    attempt: int,
    hint: float | None,
    remaining: float | None,
    rand: float,
    upper: float | None,
) -> None:
    delay = next_delay(policy, attempt, hint=hint, remaining=remaining, rand=rand, upper=upper)
    assert math.isfinite(delay) and delay >= 0.0
    assert delay <= policy.max_interval
    if remaining is not None:
        assert delay <= max(remaining, 0.0)
        if remaining >= MIN_DELAY:
            assert delay >= MIN_DELAY
    else:
        assert delay >= MIN_DELAY


@given(
    policy=policies,
    hint=st.floats(min_value=0, max_value=10**6),
    rand=st.floats(min_value=0, max_value=1),
)
def test_hints_are_honoured_as_not_before(policy: PollPolicy, hint: float, rand: float) -> None:
    delay = next_delay(policy, 3, hint=hint, remaining=None, rand=rand)
    expected_floor = min(policy.max_interval, max(MIN_DELAY, hint))
    assert delay >= expected_floor - 1e-9
    assert delay <= min(policy.max_interval, max(MIN_DELAY, hint * (1 + policy.jitter))) + 1e-9


def test_long_poll_seconds() -> None:
    assert long_poll_seconds(PollPolicy(long_poll=30), None) == 30
    assert long_poll_seconds(PollPolicy(long_poll=30), 7.9) == 7
    assert long_poll_seconds(PollPolicy(long_poll=30), 0.5) == 0
    assert long_poll_seconds(PollPolicy(long_poll=0), 100) == 0


def test_preference_applied() -> None:
    assert preference_applied_wait("wait=30") == 30
    assert preference_applied_wait("respond-async, wait=5") == 5
    assert preference_applied_wait('wait="12"') == 12
    assert preference_applied_wait("return=minimal") is None
    assert preference_applied_wait(None) is None


def test_a_303_means_completed() -> None:
    job = completed_from_redirect("j1", "http://h/api/jobs/j1", "http://h/api/jobs/j1/result")
    assert job.status == JobStatus.COMPLETED and job.is_terminal
    assert job.result_url == "http://h/api/jobs/j1/result"


def test_idempotency_keys_are_fresh_uuid4() -> None:
    a, b = new_idempotency_key(), new_idempotency_key()
    assert a != b and len(a) == 36 and a[14] == "4"


def test_poll_events_only_on_change() -> None:
    pending = Job(job_id="j", status="pending")
    running = Job(job_id="j", status="processing", progress=Progress(current=1, total=4))
    first = event_from_job(pending, None)
    assert first is not None and first.event == "status" and first.source == "poll"
    assert event_from_job(pending, pending) is None
    step = event_from_job(running, running.model_copy(update={"progress": None}))
    assert step is not None and step.event == "progress"
    assert event_from_job(running, running) is None
    done = event_from_job(Job(job_id="j", status="completed"), running)
    assert done is not None and done.event == "complete" and done.is_terminal


def test_unknown_status_is_not_terminal() -> None:
    job = Job(job_id="j", status="paused-by-operator")
    assert not job.is_terminal
    event = event_from_job(job, None)
    assert event is not None and not event.is_terminal
