"""Event logs in the Redis store: one capped stream per job, and the change channel.

``events:{id}`` is a stream capped with ``XADD MAXLEN ~`` whose entry ids are
``{n}-1`` for the per-job event id ``n`` (``events:{id}:seq``, incremented in
the same script as the ``XADD``), so ids increase per job whichever process
writes them; ``events:{id}:complete`` holds the id of the ``complete`` event.
Each append publishes the job id on ``changes``, which every process follows
(``follow_changes``) to wake its local waiters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..base import ChangeFeed
from .changes import RedisChanges

__all__ = ["ADD_EVENT", "EVENT_STREAM_MAXLEN", "RedisEvents"]

EVENT_STREAM_MAXLEN = 5000

ADD_EVENT = """
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], n..'-1', 'e', ARGV[1], 'd', ARGV[2])
if ARGV[1] == 'complete' then
  redis.call('SET', KEYS[3], n, 'NX')
  local ttl = redis.call('PTTL', KEYS[4])
  if ttl > 0 then
    for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
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
        payload = json.dumps(data, separators=(",", ":"))
        args: list[str | int] = [event, payload, self.channel, EVENT_STREAM_MAXLEN, job_id]
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
