"""Unit tests of the reference server's pure parts, with an injected clock (no network)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from mock_server.__main__ import build_parser, config_from_args, main
from mock_server.config import ConfigError, ServerConfig, parse_faults, parse_rate, parse_token
from mock_server.engine.hub import EventHub
from mock_server.engine.jobtypes import BLOB_CHUNK, JOB_TYPES, JobFailure, JobOutcome, blob_bytes
from mock_server.engine.lifecycle import Lifecycle, iso
from mock_server.engine.webhooks import check_target, sign
from mock_server.engine.worker import WorkerPool
from mock_server.http.faults import FaultSettings
from mock_server.http.jobaccess import fingerprint
from mock_server.http.openapi import webhook_url_pattern
from mock_server.http.ratelimit import TokenBucket
from mock_server.http.routes_results import parse_range
from mock_server.store.base import IDEMPOTENCY_TTL, NewJob
from mock_server.store.sqlite import SqliteStore


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _lifecycle(tmp_path: Path, ttl: float = 10.0) -> tuple[Lifecycle, Clock]:
    clock = Clock()
    store = SqliteStore(":memory:")
    cfg = ServerConfig(db=":memory:", job_ttl=ttl)
    return Lifecycle(store, EventHub(), cfg, clock), clock


def _job(lc: Lifecycle, priority: int = 0) -> str:
    new = NewJob(owner="alice", type="echo", input={}, base_url="http://x", priority=priority)
    return lc.create(new).id


def test_idempotency_keys_per_user_in_flight_replay_and_expiry() -> None:
    store = SqliteStore(":memory:")
    now = 1000.0
    assert store.reserve_key("alice", "k", "fp1", now).outcome == "reserved"
    assert store.reserve_key("alice", "k", "fp1", now).outcome == "in_flight"
    assert store.reserve_key("bob", "k", "fp1", now).outcome == "reserved"
    store.complete_key("alice", "k", "job-1", {"jobId": "job-1"})
    replay = store.reserve_key("alice", "k", "fp1", now + 1)
    assert (replay.outcome, replay.job_id, replay.response) == (
        "replay",
        "job-1",
        {"jobId": "job-1"},
    )
    assert store.reserve_key("alice", "k", "fp2", now + 1).outcome == "mismatch"
    later = now + IDEMPOTENCY_TTL + 1
    assert store.reserve_key("alice", "k", "fp2", later).outcome == "reserved"
    store.release_key("alice", "k")
    assert store.reserve_key("alice", "k", "fp3", later).outcome == "reserved"
    store.drop_in_flight_keys()  # a restart forgets requests that were in flight
    assert store.reserve_key("alice", "k", "fp4", later).outcome == "reserved"


def test_fingerprint_is_canonical() -> None:
    a = fingerprint({"type": "echo", "input": {"a": 1, "b": [1, 2]}})
    b = fingerprint({"input": {"b": [1, 2], "a": 1}, "type": "echo"})
    assert a == b != fingerprint({"type": "echo", "input": {"a": 1, "b": [2, 1]}})


def test_transitions_are_conditional_and_logged(tmp_path: Path) -> None:
    lc, clock = _lifecycle(tmp_path)
    job = _job(lc)
    claimed = lc.store.claim_next(clock())
    assert claimed is not None and claimed.id == job and claimed.status == "processing"
    assert lc.store.claim_next(clock()) is None  # leased: never runs twice at once
    lc.started(claimed)
    assert lc.progress(job, 1, 2, "half")
    assert lc.cancel(job)
    outcome = JobOutcome({}, tmp_path / "r", "application/json", "r.json", 0, "00")
    assert not lc.complete(job, outcome)  # a cancelled job's result is never published
    assert not lc.progress(job, 2, 2, None)
    assert not lc.cancel(job)
    events = lc.store.events_after(job, 0)
    assert [e[1] for e in events] == ["status", "status", "progress", "complete"]
    assert [e[0] for e in events] == [1, 2, 3, 4]
    assert json.loads(events[-1][2]) == {"status": "cancelled"}
    assert lc.store.complete_event_id(job) == 4


def test_interrupted_jobs_are_requeued_first(tmp_path: Path) -> None:
    lc, clock = _lifecycle(tmp_path)
    first, second = _job(lc), _job(lc, priority=5)
    running = lc.store.claim_next(clock())
    assert running is not None and running.id == second  # priority first
    assert lc.store.release_leases() == [second]  # what a restart does
    again = lc.store.claim_next(clock())
    assert again is not None and again.id == second and again.runs == 2
    lc.started(again)
    assert lc.store.get_job(second).progress_message == "restarted"  # type: ignore[union-attr]
    nxt = lc.store.claim_next(clock())
    assert nxt is not None and nxt.id == first


def test_purge_deletes_expired_results_then_jobs(tmp_path: Path) -> None:
    lc, clock = _lifecycle(tmp_path, ttl=10.0)
    job = _job(lc)
    lc.store.claim_next(clock())
    result = tmp_path / "result"
    result.write_bytes(b"data")
    lc.complete(job, JobOutcome({}, result, "application/json", "r.json", 4, "ab"))
    pool = WorkerPool(lc, tmp_path, 1)
    lc.store.reserve_key("alice", "old", "fp", clock())
    assert pool.purge() == (0, 0)
    clock.now += 11  # past expiresAt: the file goes, the job stays (410 for the result)
    assert pool.purge() == (1, 0)
    assert not result.exists()
    assert lc.store.get_job(job) is not None
    clock.now += lc.result_grace() + 1  # past the grace period: the job goes (404)
    assert pool.purge() == (0, 1)
    assert lc.store.get_job(job) is None and lc.store.events_after(job, 0) == []
    clock.now += IDEMPOTENCY_TTL
    pool.purge()
    assert lc.store.reserve_key("alice", "old", "other", clock()).outcome == "reserved"


def test_signed_result_urls(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteStore(":memory:")
    cfg = ServerConfig(db=":memory:", result_base_url="http://files.test:9")
    lc = Lifecycle(store, EventHub(), cfg, clock)
    lc.store.insert_job("j1", NewJob(owner="a", type="echo", input={}, base_url="http://x"), 1)
    assert lc.store.update_job("j1", status="completed", expires_at=2e9)
    job = lc.store.get_job("j1")
    assert job is not None
    url = lc.result_url(job, "http://api")
    assert url.startswith("http://files.test:9/api/jobs/j1/result?expires=2000000000&sig=")
    sig = url.rsplit("sig=", 1)[1]
    assert lc.signature_valid("j1", "2000000000", sig)
    assert not lc.signature_valid("j2", "2000000000", sig)
    assert not lc.signature_valid("j1", "2000000001", sig)
    assert not lc.signature_valid("j1", "-1", sig)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=90-", 100, (90, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-200", 100, (0, 99)),
        ("bytes=50-500", 100, (50, 99)),
        ("bytes=100-", 100, "unsatisfiable"),
        ("bytes=-0", 100, "unsatisfiable"),
        ("bytes=0-", 0, "unsatisfiable"),
        ("bytes=9-1", 100, None),
        ("bytes=0-1,5-6", 100, None),
        ("items=0-1", 100, None),
        ("bytes=-", 100, None),
    ],
)
def test_parse_range(header: str, size: int, expected: object) -> None:
    assert parse_range(header, size) == expected


def test_flag_parsers_reject_bad_values_with_one_line() -> None:
    assert parse_token("alice:s3cret") == ("alice", "s3cret")
    assert parse_rate("20/s") == 20 and parse_rate("120/m") == 2 and parse_rate("5") == 5
    assert parse_faults("503, reset,503") == ("503", "reset")
    for bad in (
        lambda: parse_token("nocolon"),
        lambda: parse_rate("fast"),
        lambda: parse_faults("boom"),
        lambda: ServerConfig(workers=0).validate(),
        lambda: ServerConfig(result_base_url="files.test").validate(),
    ):
        with pytest.raises(ConfigError) as info:
            bad()
        assert "\n" not in str(info.value)


def test_main_reports_bad_flags_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--token", "broken", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    args = build_parser().parse_args(["--token", "a:b", "--admin", "a", "--rate-limit", "2/s"])
    cfg = config_from_args(args)
    assert cfg.effective_tokens == {"b": "a"} and cfg.rate_limit == 2


def test_main_reports_an_unusable_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["--port", "0", "--db", str(blocker / "jobs.db")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open the database") and err.count("\n") == 1


def test_config_repr_hides_tokens() -> None:
    cfg = ServerConfig(tokens={"super-secret-token": "alice"})
    assert "super-secret-token" not in repr(cfg)
    assert ServerConfig().effective_tokens == {"dev-token": "dev"}
    assert "dev" in ServerConfig().effective_admins


def test_token_bucket_with_a_fake_clock() -> None:
    clock = Clock(0.0)
    bucket = TokenBucket(2.0, 2.0, clock)
    assert bucket.take() == 0 and bucket.take() == 0
    assert bucket.take() == pytest.approx(0.5)
    clock.now = 0.5
    assert bucket.take() == 0
    clock.now = 100
    assert [bucket.take() for _ in range(3)][:2] == [0, 0]


def test_webhook_targets_are_loopback_unless_allowed() -> None:
    allow = frozenset({"hooks.test"})
    for ok in (
        "http://127.0.0.1:9/x",
        "https://localhost/x",
        "http://[::1]:80/",
        "http://hooks.test/",
    ):
        assert check_target(ok, allow) is None, ok
    for bad in (
        "http://10.0.0.1/",
        "http://example.com/",
        "ftp://127.0.0.1/",
        "http://127.0.0.1:99999/",
    ):
        assert check_target(bad, allow) is not None, bad
    import re

    pattern = re.compile(webhook_url_pattern(allow))
    assert pattern.match("http://127.0.0.1:8080/h") and pattern.match("http://hooks.test/")
    assert not pattern.match("http://example.com/") and not pattern.match("http://127.0.0.1:70000/")


def test_signatures_match_the_standard_webhooks_library() -> None:
    body = b'{"event":"completed"}'
    whsec = "whsec_" + base64.b64encode(b"k" * 24).decode()
    for secret, key in ((whsec, whsec), ("plain", b"plain")):
        headers = sign(secret, "msg_1", 1_800_000_000, body)
        lib = Webhook(key)
        assert lib.sign("msg_1", _dt(1_800_000_000), body.decode()) == headers["webhook-signature"]
        assert headers["X-Webhook-Signature"].startswith("sha256=")


def _dt(ts: int) -> object:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


def test_fault_draws_are_reproducible_by_seed() -> None:
    a = FaultSettings(0.5, ("503", "reset", "sse-drop"), 7)
    b = FaultSettings(0.5, ("503", "reset", "sse-drop"), 7)
    draws = [a.draw(is_events=False, is_write=True) for _ in range(50)]
    assert draws == [b.draw(is_events=False, is_write=True) for _ in range(50)]
    assert "sse-drop" not in draws and {"503", "reset", "reset-after", None} >= set(draws)
    assert None in draws and "reset-after" in draws
    assert FaultSettings(0.0, ("503",), 1).draw(is_events=True, is_write=False) is None


def test_iso_timestamps() -> None:
    assert iso(0.123) == "1970-01-01T00:00:00.123Z"
    assert iso(None) is None


class _Ctx:
    def __init__(self, path: Path, attempt: int = 1) -> None:
        self.job_id = "0123456789abcdef"
        self.attempt = attempt
        self.result_path = path
        self.steps: list[tuple[int, int]] = []

    async def progress(self, current: int, total: int, message: str | None = None) -> None:
        self.steps.append((current, total))

    async def sleep(self, seconds: float) -> None:
        return None


def _run(job_type: str, raw: dict[str, object], path: Path, attempt: int = 1) -> JobOutcome:
    ctx = _Ctx(path, attempt)
    return asyncio.run(JOB_TYPES[job_type].run(ctx, raw))


def test_blob_streams_the_documented_bytes(tmp_path: Path) -> None:
    size = 2 * BLOB_CHUNK + 777
    out = _run("blob", {"sizeBytes": size, "seed": 3}, tmp_path / "b")
    data = (tmp_path / "b").read_bytes()
    assert data == blob_bytes(3, size) and out.size == size
    assert _run("blob", {"sizeBytes": 0, "seed": 3}, tmp_path / "z").size == 0


def test_reports_are_deterministic(tmp_path: Path) -> None:
    for fmt in ("pdf", "csv", "json"):
        a = _run("report", {"pages": 3, "format": fmt}, tmp_path / f"a.{fmt}")
        b = _run("report", {"pages": 3, "format": fmt}, tmp_path / f"b.{fmt}")
        assert a.sha256 == b.sha256 and a.size > 0
    doc = json.loads((tmp_path / "a.json").read_bytes())
    assert [p["page"] for p in doc["pages"]] == [1, 2, 3]


def test_flaky_counts_attempts_along_the_chain(tmp_path: Path) -> None:
    with pytest.raises(JobFailure) as info:
        _run("flaky", {"failTimes": 1}, tmp_path / "f", attempt=1)
    assert info.value.retryable
    assert _run("flaky", {"failTimes": 1}, tmp_path / "f", attempt=2).output == {
        "attempts": 2,
        "failTimes": 1,
    }
