"""The Redis store against a real redis-server: parity with SQLite, atomicity across processes.

Two ``RedisStore`` objects on one prefix stand for two processes (each has its
own connection pool and claim token). Clocks are passed in; a claim's expiry is
simulated by deleting the claim key (what Redis does when the visibility
timeout passes), so nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mock_server.engine.hub import EventHub
from mock_server.http.sse import event_stream
from mock_server.store.base import JobStore, NewDelivery, NewJob
from mock_server.store.redis import RedisStore
from mock_server.store.redis.events import FEED_MAXLEN
from mock_server.store.sqlite import SqliteStore

T0 = 1_800_000_000.0


@pytest.fixture
def pair(redis_url: str) -> Iterator[tuple[RedisStore, RedisStore]]:
    prefix = f"u{uuid.uuid4().hex[:10]}:"
    a = RedisStore(redis_url, prefix=prefix, grace=60.0, visibility=5.0)
    b = RedisStore(redis_url, prefix=prefix, grace=60.0, visibility=5.0)
    yield a, b
    a.close()
    b.close()


def _insert(store: JobStore, n: int, **over: Any) -> str:
    job_id = over.pop("id", str(uuid.uuid4()))
    fields: dict[str, Any] = {
        "owner": "alice",
        "type": "echo",
        "input": {"n": n},
        "base_url": "http://127.0.0.1:1",
    }
    fields.update(over)
    return store.insert_job(job_id, NewJob(**fields), T0 + n).id


def test_lists_match_sqlite_filters_before_paging(pair: tuple[RedisStore, RedisStore]) -> None:
    redis_store, _ = pair
    sqlite_store = SqliteStore(":memory:")
    for store in (redis_store, sqlite_store):
        for n in range(40):
            job_id = _insert(store, n, id=f"job-{n:02d}", type="echo" if n % 3 else "sleep")
            if n % 4 == 0:
                store.update_job(job_id, status="failed", completed_at=T0 + n)
        _insert(store, 99, id="bob-1", owner="bob")
    queries: list[dict[str, Any]] = [
        {"owner": "alice", "statuses": ["failed"], "job_type": None},
        {"owner": "alice", "statuses": [], "job_type": "sleep"},
        {"owner": "alice", "statuses": ["pending"], "job_type": "echo"},
        {"owner": None, "statuses": [], "job_type": None},
        {"owner": "alice", "statuses": [], "job_type": None},
    ]
    for query in queries:
        for offset in (0, 3, 7):
            got, total = redis_store.list_jobs(**query, limit=4, offset=offset)
            want, want_total = sqlite_store.list_jobs(**query, limit=4, offset=offset)
            assert [j.id for j in got] == [j.id for j in want], (query, offset)
            assert total == want_total
            assert len(got) == min(4, max(0, total - offset))  # never a short page
    failed, total = redis_store.list_jobs(
        owner="alice", statuses=["failed"], job_type=None, limit=100, offset=0
    )
    assert total == 10 and [j.id for j in failed][:2] == ["job-36", "job-32"]  # newest first
    sqlite_store.close()


def test_one_idempotency_key_raced_by_two_processes_reserves_once(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    outcomes: list[str] = []
    lock = threading.Lock()

    def race(store: RedisStore) -> None:
        state = store.reserve_key("alice", "k-1", "fp-1", T0)
        with lock:
            outcomes.append(state.outcome)

    threads = [threading.Thread(target=race, args=(a if i % 2 else b,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == ["in_flight", "reserved"] and outcomes.count("reserved") == 1
    assert b.reserve_key("bob", "k-1", "fp-1", T0).outcome == "reserved"  # keys are per user
    a.complete_key("alice", "k-1", "job-1", {"jobId": "job-1"})
    replay = b.reserve_key("alice", "k-1", "fp-1", T0 + 5)
    assert (replay.outcome, replay.job_id, replay.response) == (
        "replay",
        "job-1",
        {"jobId": "job-1"},
    )
    assert b.reserve_key("alice", "k-1", "fp-2", T0 + 5).outcome == "mismatch"
    ttl = a._r.ttl(a._k("idem:alice:k-1"))
    assert 86_000 < ttl <= 86_400  # 24 h from first use


def test_abandoned_reservation_is_taken_over_and_release_forgets_it(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    assert a.reserve_key("alice", "k", "fp", T0).outcome == "reserved"
    assert b.reserve_key("alice", "k", "fp", T0 + 60).outcome == "in_flight"
    assert b.reserve_key("alice", "k", "fp", T0 + 121).outcome == "reserved"  # a died mid-request
    b.release_key("alice", "k")
    assert a.reserve_key("alice", "k", "other", T0 + 122).outcome == "reserved"


def _names_behave_alike(a: JobStore, b: JobStore) -> None:
    """``a`` and ``b`` are one store seen from two processes."""
    assert a.get_name("alice", "res") is None
    assert a.point_name("alice", "res", "job-1", "Creating", T0, was=None)
    assert not b.point_name("alice", "res", "job-2", "Creating", T0, was=None)  # taken
    assert b.point_name("bob", "res", "job-9", "Creating", T0, was=None)  # names are per user
    assert not b.point_name("alice", "res", "job-2", "Updating", T0 + 1, was="job-0")  # stale
    assert b.point_name("alice", "res", "job-2", "Updating", T0 + 1, was="job-1")
    named = a.get_name("alice", "res")
    assert named is not None and (named.job_id, named.note, named.updated_at) == (
        "job-2",
        "Updating",
        T0 + 1,
    )
    assert not a.drop_name("alice", "res", "job-1")  # it points elsewhere now
    assert a.drop_name("alice", "res", "job-2")
    assert b.get_name("alice", "res") is None
    assert b.point_name("alice", "res", "job-3", "Creating", T0 + 2, was=None)  # free again


def test_names_are_compare_and_set_on_both_stores(pair: tuple[RedisStore, RedisStore]) -> None:
    _names_behave_alike(*pair)
    sqlite_store = SqliteStore(":memory:")
    _names_behave_alike(sqlite_store, sqlite_store)
    sqlite_store.close()


def test_a_job_is_claimed_once_and_reclaimed_from_a_dead_worker(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    low = _insert(a, 1)
    high = _insert(a, 2, priority=5)
    first = a.claim_next(T0 + 10)
    assert first is not None and first.id == high and first.runs == 1
    assert first.status == "processing" and first.started_at == T0 + 10
    second = b.claim_next(T0 + 10)
    assert second is not None and second.id == low
    assert a.claim_next(T0 + 11) is None and b.claim_next(T0 + 11) is None
    assert a.renew_claim(high) and not b.renew_claim(high)
    a._r.delete(a._k("claim:", high))  # a's visibility timeout passed without a heartbeat
    again = b.claim_next(T0 + 20)
    assert again is not None and again.id == high and again.runs == 2
    assert again.started_at == T0 + 10  # the original start is kept
    assert not a.renew_claim(high)  # a (if it were alive) learns it lost the job
    assert b.update_job(high, where_status=("processing",), status="completed")
    b.release_claim(high)
    a._r.delete(a._k("claim:", high))
    assert a.claim_next(T0 + 30) is None  # a finished job is never claimed again


def test_cancelled_pending_job_is_never_claimed(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    job = _insert(a, 1)
    assert b.update_job(job, where_status=("pending", "processing"), status="cancelled")
    assert not a.update_job(job, where_status=("pending", "processing"), status="cancelled")
    assert a.claim_next(T0) is None


def test_event_ids_increase_per_job_whichever_process_writes(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    job = _insert(a, 1)
    ids = [(a if i % 2 else b).add_event(job, "progress", {"current": i}, T0) for i in range(6)]
    assert ids == [1, 2, 3, 4, 5, 6]
    assert b.add_event(job, "complete", {"status": "cancelled"}, T0) == 7
    assert a.last_event_id(job) == 7 and a.complete_event_id(job) == 7
    assert [e[0] for e in b.events_after(job, 4)] == [5, 6, 7]
    assert b.events_after(job, 6) == [(7, "complete", '{"status":"cancelled"}')]
    assert a.complete_event_id(_insert(a, 2)) is None


def test_resume_from_a_trimmed_event_gets_a_fresh_snapshot(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, _ = pair
    job = _insert(a, 1)
    a.update_job(job, status="processing", progress_current=9, progress_total=10)
    for i in range(10):
        a.add_event(job, "progress", {"current": i, "total": 10}, T0)
    a._r.xtrim(a._k("events:", job), minid="6-0", approximate=False)  # the cap dropped events 1..5

    async def first(last: int) -> bytes:
        stream = event_stream(
            store=a, hub=EventHub(), job_id=job, last_event_id=last, retry_ms=1, keepalive=1
        )
        chunk = await stream.__anext__()
        await stream.aclose()
        return chunk

    assert b"event: status" in asyncio.run(first(2))  # too old: snapshot
    assert b"id: 6\nevent: progress" in asyncio.run(first(5))  # still held: replay


def test_finished_jobs_expire_with_their_ttl_and_are_purged(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    job = _insert(a, 1)
    assert a.update_job(job, status="processing")
    far = 4_000_000_000.0
    a.update_job(job, status="completed", expires_at=far, result_path="/tmp/x")
    ttl_ms = a._r.pttl(a._k("job:", job))
    assert ttl_ms > 0  # the record goes when expiresAt + grace passes
    files, gone = b.expired(far - 1, 60.0)
    assert files == [] and gone == []
    files, gone = b.expired(far + 1, 60.0)
    assert [j.id for j in files] == [job] and gone == []
    assert b.expired(far + 2, 60.0)[0] == []  # a file is handed out once
    assert b.expired(far + 61, 60.0)[1] == [job]
    b.delete_job(job)
    assert a.get_job(job) is None and a.list_jobs(
        owner="alice", statuses=[], job_type=None, limit=5, offset=0
    ) == ([], 0)


def test_secret_and_deliveries_are_shared(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    assert a.secret("result-signing") == b.secret("result-signing")
    job = _insert(a, 1)
    a.add_delivery(
        "dlv_1",
        NewDelivery(
            job_id=job,
            owner="alice",
            url="http://127.0.0.1:9/",
            secret="whsec_x",
            event="completed",
            payload=b'{"event":"completed"}',
        ),
        T0,
    )
    assert [d.id for d in b.deliveries("pending")] == ["dlv_1"]
    b.update_delivery("dlv_1", state="failed", attempts=5, last_error="boom", updated_at=T0 + 1)
    failed = a.deliveries("failed")
    assert [(d.id, d.attempts, d.payload) for d in failed] == [
        ("dlv_1", 5, b'{"event":"completed"}')
    ]
    assert a.deliveries("pending") == [] and "whsec_x" not in repr(failed[0])
    a.delete_job(job)
    assert b.get_delivery("dlv_1") is None and b.deliveries("failed") == []


def test_the_feed_matches_sqlite_and_knows_what_it_trimmed(
    pair: tuple[RedisStore, RedisStore],
) -> None:
    a, b = pair
    sqlite_store = SqliteStore(":memory:")
    for store, other in ((a, b), (sqlite_store, sqlite_store)):
        alice = _insert(store, 1, id="job-a")
        bobs = _insert(store, 2, id="job-b", owner="bob", type="sleep")
        store.add_event(alice, "status", {"status": "pending"}, T0)
        other.add_event(bobs, "status", {"status": "pending"}, T0)  # another process
        store.add_event(alice, "progress", {"current": 1, "total": 2}, T0)
        mine = store.feed_after("alice", 0, 10)
        assert [(e.seq, e.job_id, e.event_id, e.event) for e in mine] == [
            (1, "job-a", 1, "status"),
            (3, "job-a", 2, "progress"),
        ]
        assert mine[0].job_type == "echo" and mine[1].data == '{"current":1,"total":2}'
        assert [e.seq for e in store.feed_after(None, 1, 10)] == [2, 3]
        assert [e.seq for e in store.feed_after(None, 0, 2)] == [1, 2]
        assert store.feed_bounds("alice") == (0, 3) == store.feed_bounds(None)
        assert store.feed_heads(["job-a", "job-b", "nope"]) == {"job-a": 3, "job-b": 2}
        assert [j.id if j else None for j in store.get_jobs(["job-b", "x", "job-a"])] == [
            "job-b",
            None,
            "job-a",
        ]
        store.delete_job(alice)
        assert store.feed_heads([alice]) == {}
        # a purged job's events leave SQLite's feed with it; Redis's capped streams keep
        # them until trimmed (docs/protocol.md: positions that old are rarely resumed)
        assert len(store.feed_after("alice", 0, 10)) == (2 if store is a else 0)
    job = _insert(a, 3, id="job-c")
    for i in range(3 * FEED_MAXLEN // 2):  # past the cap: Redis trims the oldest entries
        a.add_event(job, "progress", {"current": i, "total": 1}, T0)
    floor, last = a.feed_bounds("alice")
    held = a.feed_after("alice", 0, 1)
    assert 0 < floor < last and held[0].seq == floor + 1  # everything after the floor is held
