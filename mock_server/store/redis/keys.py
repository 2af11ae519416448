"""Idempotency keys, webhook deliveries and secrets in the Redis store (a mixin).

An idempotency key is ``idem:{owner}:{key}``, set with ``SET NX EX 86400``
before any work is done: of several API processes racing on one key exactly
one creates the job; the others read the stored value and answer 409 while it
is in flight, 422 for another payload, or the replay. A reservation older than
120 s (its API process died mid-request) is taken over with a compare-and-set.
A name (an Azure resource) is ``name:{owner}:{name}`` (JSON ``{jobId, note, at}``),
changed only by a compare-and-set script on the job it points at. A delivery is
``delivery:{id}`` (JSON) listed in ``deliveries:{state}`` (a
sorted set by creation time) and ``deliveries:job:{jobId}`` (for the purge).
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Unpack

from ..base import (
    IDEMPOTENCY_TTL,
    IN_FLIGHT_STALE,
    Delivery,
    DeliveryChanges,
    KeyState,
    NameRecord,
    NewDelivery,
)

__all__ = ["RedisKeys"]

_RESERVE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return {1, ''} end
return {0, redis.call('GET', KEYS[1]) or ''}
"""
_SWAP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]); return 1
end
return 0
"""
_DROP_IN_FLIGHT = """
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['state'] == 'in_flight' then return redis.call('DEL', KEYS[1]) end
return 0
"""

_POINT = """
local v = redis.call('GET', KEYS[1])
local now = ''
if v then now = cjson.decode(v)['jobId'] end
if now ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
"""


class RedisKeys:
    """Key, delivery and secret methods of the RedisStore (mixin; uses ``_r`` and ``_k``)."""

    _r: Any  # a redis.Redis with decode_responses=True (see RedisStore)

    def _k(self, *parts: str) -> str:
        raise NotImplementedError

    def secret(self, name: str) -> bytes:
        """A random secret, created once (``SET NX``) and shared by every process.

        Args:
            name: which secret.
        """
        key = self._k("meta:", name)
        self._r.set(key, secrets.token_bytes(32).hex(), nx=True)
        return bytes.fromhex(str(self._r.get(key)))

    # ---- idempotency keys ------------------------------------------------------------
    def reserve_key(self, owner: str, key: str, fingerprint: str, now: float) -> KeyState:
        """Reserve ``key`` (``SET NX`` with the 24 h TTL), or say why not.

        Args:
            owner: the user (keys are per user).
            key: the Idempotency-Key.
            fingerprint: hash of the canonical request.
            now: the current time.
        """
        name = self._k("idem:", owner, ":", key)
        mine = json.dumps({"state": "in_flight", "fp": fingerprint, "at": now})
        script = self._r.register_script(_RESERVE)
        for _ in range(3):
            won, raw = script(keys=[name], args=[mine, int(IDEMPOTENCY_TTL)])
            if won:
                return KeyState("reserved")
            if not raw:  # expired between SET and GET: try again
                continue
            stored = json.loads(raw)
            if stored["state"] == "in_flight":
                if float(stored["at"]) >= now - IN_FLIGHT_STALE:
                    return KeyState("in_flight")
                swap = self._r.register_script(_SWAP)
                if swap(keys=[name], args=[raw, mine, int(IDEMPOTENCY_TTL)]):
                    return KeyState("reserved")
                continue
            if stored["fp"] != fingerprint:
                return KeyState("mismatch")
            return KeyState("replay", stored["jobId"], stored["response"])
        return KeyState("in_flight")

    def complete_key(self, owner: str, key: str, job_id: str, response: dict[str, Any]) -> None:
        """Remember the response (the key keeps its 24 h from first use).

        Args:
            owner: the user.
            key: the key.
            job_id: the job created.
            response: the body to replay.
        """
        name = self._k("idem:", owner, ":", key)
        current = self._r.get(name)
        fingerprint = json.loads(current)["fp"] if current else ""
        done = {"state": "done", "fp": fingerprint, "jobId": job_id, "response": response}
        self._r.set(name, json.dumps(done), keepttl=True)

    def release_key(self, owner: str, key: str) -> None:
        """Forget a reservation whose request failed before making a job.

        Args:
            owner: the user.
            key: the key.
        """
        script = self._r.register_script(_DROP_IN_FLIGHT)
        script(keys=[self._k("idem:", owner, ":", key)])

    def purge_keys(self, now: float) -> int:
        """Nothing to do: Redis expires keys itself (24 h TTL).

        Args:
            now: the current time.
        """
        return 0

    def drop_in_flight_keys(self) -> None:
        """Nothing to do: other processes may have requests in flight (stale ones time out)."""

    # ---- names ---------------------------------------------------------------------
    def point_name(
        self, owner: str, name: str, job_id: str, note: str, now: float, *, was: str | None
    ) -> bool:
        """Point ``name`` at ``job_id`` if it points at ``was`` now (one script decides).

        Args:
            owner: the user.
            name: the name.
            job_id: the job it should point at.
            note: stored with it.
            now: the current time.
            was: the job it must point at now, or None for a free name.
        """
        value = json.dumps({"jobId": job_id, "note": note, "at": now})
        script = self._r.register_script(_POINT)
        return bool(script(keys=[self._k("name:", owner, ":", name)], args=[was or "", value]))

    def get_name(self, owner: str, name: str) -> NameRecord | None:
        """Where the name points, or None.

        Args:
            owner: the user.
            name: the name.
        """
        raw = self._r.get(self._k("name:", owner, ":", name))
        if not raw:
            return None
        stored = json.loads(raw)
        return NameRecord(stored["jobId"], stored["note"], float(stored["at"]))

    def drop_name(self, owner: str, name: str, job_id: str) -> bool:
        """Free the name if it points at ``job_id`` (the same script, with no new value).

        Args:
            owner: the user.
            name: the name.
            job_id: the job it must point at.
        """
        script = self._r.register_script(_POINT)
        return bool(script(keys=[self._k("name:", owner, ":", name)], args=[job_id, ""]))

    # ---- webhook deliveries ------------------------------------------------------------
    def add_delivery(self, delivery_id: str, delivery: NewDelivery, now: float) -> Delivery:
        """Store a pending delivery.

        Args:
            delivery_id: its id.
            delivery: what to deliver.
            now: the creation time.
        """
        made = Delivery(
            id=delivery_id,
            job_id=delivery.job_id,
            owner=delivery.owner,
            url=delivery.url,
            secret=delivery.secret,
            event=delivery.event,
            payload=delivery.payload,
            state="pending",
            attempts=0,
            last_error=None,
            last_status=None,
            created_at=now,
            updated_at=now,
        )
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._k("delivery:", made.id), _encode_delivery(made))
        pipe.zadd(self._k("deliveries:pending"), {made.id: now})
        pipe.sadd(self._k("deliveries:job:", made.job_id), made.id)
        pipe.execute()
        return made

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """The delivery, or None.

        Args:
            delivery_id: its id.
        """
        return _decode_delivery(self._r.get(self._k("delivery:", delivery_id)))

    def update_delivery(self, delivery_id: str, **changes: Unpack[DeliveryChanges]) -> None:
        """Record an attempt's outcome (moving it between the state lists).

        Args:
            delivery_id: the delivery.
            changes: new values.
        """
        key = self._k("delivery:", delivery_id)

        def change(pipe: Any) -> None:
            current = _decode_delivery(pipe.get(key))
            if current is None:
                return
            data = {**_delivery_dict(current), **changes}
            pipe.multi()
            pipe.set(key, json.dumps(data))
            if data["state"] != current.state:
                pipe.zrem(self._k("deliveries:", current.state), delivery_id)
                pipe.zadd(self._k("deliveries:", data["state"]), {delivery_id: current.created_at})

        self._r.transaction(change, key)

    def deliveries(self, state: str) -> list[Delivery]:
        """Deliveries in a state, oldest first.

        Args:
            state: ``pending``, ``delivered`` or ``failed``.
        """
        ids = self._r.zrange(self._k("deliveries:", state), 0, -1)
        if not ids:
            return []
        found = (_decode_delivery(r) for r in self._r.mget([self._k("delivery:", i) for i in ids]))
        return [d for d in found if d is not None and d.state == state]


def _delivery_dict(delivery: Delivery) -> dict[str, Any]:
    data = {name: getattr(delivery, name) for name in Delivery.__dataclass_fields__}
    data["payload"] = delivery.payload.decode("utf-8")
    return data


def _encode_delivery(delivery: Delivery) -> str:
    return json.dumps(_delivery_dict(delivery))


def _decode_delivery(raw: str | None) -> Delivery | None:
    if raw is None:
        return None
    data = json.loads(raw)
    payload = data["payload"]
    data["payload"] = payload.encode("utf-8") if isinstance(payload, str) else payload
    return Delivery(**data)
