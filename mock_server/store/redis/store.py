"""The Redis store: jobs and worker claims shared by many processes.

Layout (every key starts with the optional ``--redis-prefix``):

- ``job:{id}``: the job as JSON. Live jobs have no TTL; a finished job's key
  expires ``--job-ttl`` after it finished plus the grace during which its result
  answers 410 (the same moment the SQLite store purges it).
- ``jobs:user:{owner}`` and ``jobs:all``: sorted sets of job ids scored by the
  creation sequence (``jobs:seq``, an ``INCR`` counter: creation order across
  every API process), for lists newest first, filtered before paging.
- ``jobs:queue`` (pending, scored by priority then age), ``jobs:processing``
  and ``claim:{id}``: a worker claims a job with ``SET NX PX`` (a visibility
  timeout it renews while the job runs); a job in ``jobs:processing`` whose
  claim expired belongs to a dead worker and is claimed again, from the start.
- ``jobs:expiring`` / ``jobs:purge``: when result files and records expire.
- Event streams, the feed across jobs and the ``changes`` channel: see
  ``events``; idempotency keys, deliveries and secrets: see ``keys``.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import TYPE_CHECKING, Any, Unpack

import redis

from ..base import TERMINAL, JobChanges, JobRecord, JobStore, NewJob
from .events import ADD_EVENT, RedisEvents
from .keys import RedisKeys

__all__ = ["RedisStore"]

_QUEUE_SCALE = 1e12  # queue score = -priority * scale + seq: higher priority, then older
_FIELDS = tuple(f.name for f in dataclasses.fields(JobRecord))
_DEFAULTS: dict[str, Any] = dict.fromkeys(_FIELDS)
_DEFAULTS.update(leased=0, priority=0, attempt=1, runs=0, estimated_seconds=0.0)

_CLAIM = """
local p, token, ms = ARGV[1], ARGV[2], ARGV[3]
for _, id in ipairs(redis.call('ZRANGE', p..'jobs:processing', 0, -1)) do
  if redis.call('SET', p..'claim:'..id, token, 'NX', 'PX', ms) then return id end
end
local top = redis.call('ZPOPMIN', p..'jobs:queue')
if #top == 0 then return false end
redis.call('ZADD', p..'jobs:processing', top[2], top[1])
redis.call('SET', p..'claim:'..top[1], token, 'PX', ms)
return top[1]
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RELEASE_ALL = """
local p, token, n = ARGV[1], ARGV[2], 0
for _, id in ipairs(redis.call('ZRANGE', p..'jobs:processing', 0, -1)) do
  local claim = p..'claim:'..id
  if redis.call('GET', claim) == token then redis.call('DEL', claim); n = n + 1 end
end
return n
"""


class RedisStore(RedisKeys, RedisEvents):
    """A ``JobStore`` on Redis, shared by API and worker processes.

    Args:
        url: ``redis://HOST:PORT/DB``.
        prefix: prepended to every key and the change channel.
        grace: seconds a finished job's record outlives its ``expiresAt``.
        visibility: seconds a worker's claim lasts without a heartbeat.
    """

    def __init__(
        self, url: str, *, prefix: str = "", grace: float = 60.0, visibility: float = 10.0
    ):
        self.url = url
        self.prefix = prefix
        self.grace = grace
        self.visibility_ms = max(100, int(visibility * 1000))
        self.token = uuid.uuid4().hex  # this process's claims carry it
        # Any: redis-py types results as bytes | str (and sync | async) whatever the client;
        # with decode_responses=True they are str, and the methods below convert them.
        # timeouts: a call blocks the event loop, so an unreachable Redis must fail fast (503)
        self._r: Any = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self._claim = self._r.register_script(_CLAIM)
        self._renew = self._r.register_script(_RENEW)
        self._release = self._r.register_script(_RELEASE)
        self._release_all = self._r.register_script(_RELEASE_ALL)
        self._add_event = self._r.register_script(ADD_EVENT)
        self.channel = prefix + "changes"

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._r.close()

    def ping(self) -> None:
        """Raise redis.RedisError when the server cannot be reached."""
        self._r.ping()

    def _k(self, *parts: str) -> str:
        return self.prefix + "".join(parts)

    # ---- jobs -----------------------------------------------------------------
    def insert_job(self, job_id: str, job: NewJob, now: float) -> JobRecord:
        """Insert a pending job and queue it.

        Args:
            job_id: its id.
            job: what to create.
            now: the creation time.
        """
        seq = int(self._r.incr(self._k("jobs:seq")))
        data = {**_DEFAULTS, **job.fields(job_id, now), "seq": seq}
        made = JobRecord(**data)
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._k("job:", made.id), json.dumps(data, separators=(",", ":")))
        pipe.zadd(self._k("jobs:user:", made.owner), {made.id: made.seq})
        pipe.zadd(self._k("jobs:all"), {made.id: made.seq})
        pipe.zadd(self._k("jobs:queue"), {made.id: _queue_score(made)})
        pipe.execute()
        return made

    def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or None.

        Args:
            job_id: its id.
        """
        return _decode(self._r.get(self._k("job:", job_id)))

    def update_job(
        self, job_id: str, *, where_status: tuple[str, ...] = (), **changes: Unpack[JobChanges]
    ) -> bool:
        """Update fields in one WATCH/MULTI transaction, only from the allowed statuses.

        Args:
            job_id: the job.
            where_status: allowed current statuses (empty: any).
            changes: new values.
        """
        key = self._k("job:", job_id)
        fields: dict[str, Any] = dict(changes)

        def change(pipe: Any) -> bool:
            raw = pipe.get(key)
            if raw is None:
                return False
            data = json.loads(raw)
            if where_status and data["status"] not in where_status:
                return False
            data.update(fields)
            pipe.multi()
            pipe.set(key, json.dumps(data, separators=(",", ":")), keepttl=True)
            if data["status"] in TERMINAL:
                pipe.zrem(self._k("jobs:queue"), job_id)
                pipe.zrem(self._k("jobs:processing"), job_id)
            if "expires_at" in fields and data["expires_at"] is not None:
                gone_at = float(data["expires_at"]) + self.grace
                pipe.pexpireat(key, int(gone_at * 1000))
                pipe.zadd(self._k("jobs:purge"), {job_id: gone_at})
            if "result_path" in fields:
                if data["result_path"] is None:
                    pipe.zrem(self._k("jobs:expiring"), job_id)
                elif data["expires_at"] is not None:
                    pipe.zadd(self._k("jobs:expiring"), {job_id: float(data["expires_at"])})
            return True

        changed: bool = self._r.transaction(change, key, value_from_callable=True)
        return changed

    def get_jobs(self, job_ids: list[str]) -> list[JobRecord | None]:
        """The jobs in the order asked (None for missing ones), 500 per ``MGET``.

        Args:
            job_ids: the jobs.
        """
        out: list[JobRecord | None] = []
        for i in range(0, len(job_ids), 500):
            chunk = job_ids[i : i + 500]
            out.extend(_decode(raw) for raw in self._r.mget([self._k("job:", j) for j in chunk]))
        return out

    def list_jobs(
        self,
        *,
        owner: str | None,
        statuses: list[str],
        job_type: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[JobRecord], int]:
        """Jobs newest first, filtered before paging (never a short page).

        Args:
            owner: only this user's jobs (None: everyone's).
            statuses: allowed statuses (empty: any).
            job_type: only this type.
            limit: page size.
            offset: jobs to skip.
        """
        index = self._k("jobs:user:", owner) if owner is not None else self._k("jobs:all")
        if not statuses and job_type is None:  # fast path: page straight from the index
            ids = self._r.zrevrange(index, offset, offset + limit - 1)
            page = self.get_jobs(ids)
            if all(job is not None for job in page):
                return [j for j in page if j is not None], int(self._r.zcard(index))
        ids = self._r.zrevrange(index, 0, -1)
        matching: list[JobRecord] = []
        stale: list[str] = []
        for job_id, job in zip(ids, self.get_jobs(ids), strict=True):
            if job is None:
                stale.append(job_id)
            elif (not statuses or job.status in statuses) and job_type in (None, job.type):
                matching.append(job)
        if stale:  # records Redis expired before the purge loop saw them
            self._r.zrem(index, *stale)
        return matching[offset : offset + limit], len(matching)

    def queue_ahead(self, job: JobRecord, now: float) -> float:
        """Estimated seconds of work queued (up to 1000 jobs) or running ahead of ``job``.

        Args:
            job: a pending job.
            now: the current time.
        """
        ahead = self._r.zrangebyscore(
            self._k("jobs:queue"), "-inf", f"({_queue_score(job)}", start=0, num=1000
        )
        total: float = sum(j.estimated_seconds for j in self.get_jobs(ahead) if j is not None)
        for running in self.get_jobs(self._r.zrange(self._k("jobs:processing"), 0, 999)):
            if running is not None and running.started_at is not None:
                total += max(0.0, running.estimated_seconds - (now - running.started_at))
        return float(total)

    def expired(self, now: float, grace: float) -> tuple[list[JobRecord], list[str]]:
        """Jobs whose result file expired (taken off the list), and ids due for a purge.

        Args:
            now: the current time.
            grace: unused (the purge time was fixed when the job finished).
        """
        due = self._r.zrangebyscore(self._k("jobs:expiring"), "-inf", now)
        files = [j for j in self.get_jobs(due) if j is not None and j.result_path]
        if due:
            self._r.zrem(self._k("jobs:expiring"), *due)
        gone = self._r.zrangebyscore(self._k("jobs:purge"), "-inf", now)
        return files, list(gone)

    def delete_job(self, job_id: str) -> None:
        """Remove a job, its events, deliveries and index entries.

        Args:
            job_id: the job.
        """
        job = self.get_job(job_id)
        deliveries = list(self._r.smembers(self._k("deliveries:job:", job_id)))
        events = self._k("events:", job_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self._k("job:", job_id), events, events + ":seq", events + ":complete")
        pipe.delete(events + ":head")
        pipe.delete(self._k("deliveries:job:", job_id))
        if deliveries:
            pipe.delete(*[self._k("delivery:", d) for d in deliveries])
            for state in ("pending", "delivered", "failed"):
                pipe.zrem(self._k("deliveries:", state), *deliveries)
        for index in ("jobs:all", "jobs:queue", "jobs:processing", "jobs:expiring", "jobs:purge"):
            pipe.zrem(self._k(index), job_id)
        if job is not None:
            pipe.zrem(self._k("jobs:user:", job.owner), job_id)
        pipe.execute()

    # ---- worker claims ------------------------------------------------------------
    def release_leases(self) -> list[str]:
        """Give up this process's claims so other workers take the jobs at once."""
        self._release_all(args=[self.prefix, self.token])
        return []

    def claim_next(self, now: float) -> JobRecord | None:
        """Claim a job whose worker died (its claim expired), else the next queued one.

        Args:
            now: the current time.
        """
        while True:
            job_id = self._claim(args=[self.prefix, self.token, self.visibility_ms])
            if not job_id:
                return None
            job = self.get_job(str(job_id))
            if job is None:
                self._r.zrem(self._k("jobs:processing"), str(job_id))
                continue
            ok = self.update_job(
                job.id,
                where_status=("pending", "processing"),
                status="processing",
                leased=1,
                runs=job.runs + 1,
                updated_at=now,
                started_at=job.started_at if job.started_at is not None else now,
            )
            fresh = self.get_job(job.id) if ok else None
            if fresh is not None:
                return fresh
            self.release_claim(job.id)
            self._r.zrem(self._k("jobs:processing"), job.id)

    def renew_claim(self, job_id: str) -> bool:
        """Extend this process's claim by the visibility timeout; False when it was lost.

        Args:
            job_id: the job.
        """
        key = self._k("claim:", job_id)
        return bool(self._renew(keys=[key], args=[self.token, self.visibility_ms]))

    def release_claim(self, job_id: str) -> None:
        """Drop this process's claim on the job.

        Args:
            job_id: the job.
        """
        self._release(keys=[self._k("claim:", job_id)], args=[self.token])


def _queue_score(job: JobRecord) -> float:
    return -job.priority * _QUEUE_SCALE + job.seq


def _decode(raw: str | None) -> JobRecord | None:
    if raw is None:
        return None
    data = json.loads(raw)
    return JobRecord(**{name: data.get(name, _DEFAULTS[name]) for name in _FIELDS})


if TYPE_CHECKING:  # mypy checks here that the Redis store implements the whole interface
    _conforms: type[JobStore] = RedisStore
