"""Event logs in the Redis store: one capped stream per job, and the change channel.

``events:{id}`` is a stream capped with ``XADD MAXLEN ~`` whose entry ids are
``{n}-1`` for the per-job event id ``n`` (``events:{id}:seq``, incremented in
the same script as the ``XADD``), so ids increase per job whichever process
writes them; ``events:{id}:complete`` holds the id of the ``complete`` event.
Each append publishes the job id on ``changes``, which every process follows
(``follow_changes``) to wake its local waiters.

The feed, in the same script: ``feed:seq`` is an ``INCR`` counter across every
job; each event is added to ``feed:all`` and ``feed:user:{owner}`` (capped
streams whose entry ids are ``{seq}-1``; fields ``j`` job id, ``t`` type, ``n``
per-job id, ``e``, ``d``), and ``events:{id}:head`` keeps the job's newest feed
position. Once a feed stream was trimmed (``XINFO``: more entries added than it
holds), its floor is just before its first entry: a client whose position is
below that may have lost events, and gets snapshots instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from ..base import ChangeFeed, FeedEvent
from .changes import RedisChanges

__all__ = ["ADD_EVENT", "EVENT_STREAM_MAXLEN", "FEED_MAXLEN", "RedisEvents"]

EVENT_STREAM_MAXLEN = 5000
FEED_MAXLEN = 20000
"""Entries a feed stream keeps (about: trimming is ``MAXLEN ~``)."""

ADD_EVENT = """
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], n..'-1', 'e', ARGV[1], 'd', ARGV[2])
local raw = redis.call('GET', KEYS[4])
if raw then
  local job = cjson.decode(raw)
  local g = redis.call('INCR', KEYS[6])
  local id = g..'-1'
  for _, key in ipairs({KEYS[7], ARGV[7]..job['owner']}) do
    redis.call('XADD', key, 'MAXLEN', '~', ARGV[6], id, 'j', ARGV[5], 't', job['type'],
               'n', n, 'e', ARGV[1], 'd', ARGV[2])
  end
  redis.call('SET', KEYS[5], g)
end
if ARGV[1] == 'complete' then
  redis.call('SET', KEYS[3], n, 'NX')
  local ttl = redis.call('PTTL', KEYS[4])
  if ttl > 0 then
    for _, i in ipairs({1, 2, 3, 5}) do redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
redis.call('PUBLISH', ARGV[3], ARGV[5])
return n
"""


class RedisEvents:
    """Event-log methods of the RedisStore (mixin; uses ``_r``, ``_k``, ``url``, ``channel``)."""

    _r: Any  # a redis.Redis with decode_responses=True (see RedisStore)
    _add_event: Any  # the registered ADD_EVENT script
    url: str
    channel: str

    def _k(self, *parts: str) -> str:
        raise NotImplementedError

    def add_event(self, job_id: str, event: str, data: dict[str, Any], now: float) -> int:
        """Append to the job's stream and publish the change (one script: ids never reorder).

        Args:
            job_id: the job.
            event: ``status``, ``progress`` or ``complete``.
            data: the event's JSON data.
            now: the current time (unused: stream entries carry no time of their own).
        """
        events = self._k("events:", job_id)
        keys = [events, events + ":seq", events + ":complete", self._k("job:", job_id)]
        keys += [events + ":head", self._k("feed:seq"), self._k("feed:all")]
        payload = json.dumps(data, separators=(",", ":"))
        args: list[str | int] = [event, payload, self.channel, EVENT_STREAM_MAXLEN, job_id]
        args += [FEED_MAXLEN, self._k("feed:user:")]
        return int(self._add_event(keys=keys, args=args))

    def last_event_id(self, job_id: str) -> int:
        """The newest event id of the job (0 when none).

        Args:
            job_id: the job.
        """
        return int(self._r.get(self._k("events:", job_id, ":seq")) or 0)

    def events_after(self, job_id: str, after: int) -> list[tuple[int, str, str]]:
        """``(id, event, data)`` of the held events after ``after``, oldest first.

        Args:
            job_id: the job.
            after: the last id the client has.
        """
        entries = self._r.xrange(self._k("events:", job_id), f"{after + 1}-0", "+")
        return [(int(str(eid).split("-")[0]), str(f["e"]), str(f["d"])) for eid, f in entries]

    def complete_event_id(self, job_id: str) -> int | None:
        """The id of the job's ``complete`` event, if it has one.

        Args:
            job_id: the job.
        """
        value = self._r.get(self._k("events:", job_id, ":complete"))
        return None if value is None else int(value)

    def _feed_key(self, owner: str | None) -> str:
        return self._k("feed:all") if owner is None else self._k("feed:user:", owner)

    def feed_after(self, owner: str | None, after: int, limit: int) -> list[FeedEvent]:
        """Held events of the owner's jobs (None: everyone's) after feed position ``after``.

        Args:
            owner: whose jobs.
            after: the last position the client has.
            limit: at most this many.
        """
        entries = self._r.xrange(self._feed_key(owner), f"{after + 1}-0", "+", count=limit)
        return [
            FeedEvent(_seq(eid), f["j"], f["t"], int(f["n"]), f["e"], f["d"]) for eid, f in entries
        ]

    def feed_bounds(self, owner: str | None) -> tuple[int, int]:
        """``(floor, last)``: the floor is the feed stream's newest trimmed entry.

        Args:
            owner: whose jobs (None: everyone's).
        """
        last = int(self._r.get(self._k("feed:seq")) or 0)
        try:
            info = self._r.xinfo_stream(self._feed_key(owner))
        except redis.ResponseError:  # no such stream: nothing was ever trimmed
            return 0, last
        if int(info["entries-added"]) <= int(info["length"]):
            return 0, last  # nothing trimmed
        first = info.get("first-entry")
        if not first:
            return _seq(str(info["last-generated-id"])), last
        return _seq(str(first[0])) - 1, last

    def feed_heads(self, job_ids: list[str]) -> dict[str, int]:
        """The feed position of each job's newest event.

        Args:
            job_ids: the jobs.
        """
        heads: dict[str, int] = {}
        for i in range(0, len(job_ids), 500):
            chunk = job_ids[i : i + 500]
            values = self._r.mget([self._k("events:", j, ":head") for j in chunk])
            heads.update((j, int(v)) for j, v in zip(chunk, values, strict=True) if v)
        return heads

    async def follow_changes(
        self, notify: Callable[[str], None], notify_all: Callable[[], None]
    ) -> ChangeFeed | None:
        """Subscribe to ``changes`` (waiting up to 5 s until the subscription is live).

        Args:
            notify: called with the job id of every change, whichever process made it.
            notify_all: called whenever changes may have been missed (after (re)subscribing).
        """
        feed = RedisChanges(self.url, self.channel, notify, notify_all)
        await feed.start()
        return feed


def _seq(entry_id: str) -> int:
    """The feed position of a stream entry id ``{seq}-1``."""
    return int(str(entry_id).split("-", 1)[0])
