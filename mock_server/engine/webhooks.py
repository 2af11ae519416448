"""Webhook deliveries: signing with both schemes, retries with backoff, failed list.

Each delivery is stored before it is attempted, so deliveries survive a
restart (pending ones resume at start-up). A ``2xx`` is success, a ``4xx``
final, a ``5xx`` or a network error is retried with exponential backoff up to
``webhook_attempts`` attempts; what still fails is kept as ``failed`` and can
be redelivered. Targets are limited to loopback unless ``--webhook-allow``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..store.base import Delivery, JobRecord, NewDelivery
from .lifecycle import Lifecycle, iso

__all__ = ["WebhookSender", "check_target", "sign"]

log = logging.getLogger("mock_server.webhooks")


def check_target(url: str, allow: frozenset[str]) -> str | None:
    """Why a webhook URL is refused, or None when it may be used.

    Args:
        url: the target.
        allow: extra hosts allowed besides loopback.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http(s) URL with a host"
    if host.lower() in allow or host.lower() == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return f"host {host!r} is not allowed (loopback only; see --webhook-allow)"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The signature headers of both schemes.

    Args:
        secret: the subscription's secret.
        msg_id: the delivery id.
        timestamp: unix seconds.
        body: the raw JSON body.
    """
    legacy = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret.removeprefix("whsec_"))
    else:
        key = secret.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    std = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "X-Webhook-Signature": f"sha256={legacy}",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{std}",
    }


class WebhookSender:
    """Queues, sends and retries webhook deliveries.

    Args:
        lifecycle: for the store, settings and clock.
        transport: an httpx transport (tests); None for the network.
    """

    def __init__(self, lifecycle: Lifecycle, transport: httpx.AsyncBaseTransport | None = None):
        self.lifecycle = lifecycle
        self.store = lifecycle.store
        self.config = lifecycle.config
        self._client = httpx.AsyncClient(
            timeout=self.config.webhook_timeout, transport=transport, follow_redirects=False
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> int:
        """Resume deliveries that were pending at the last shutdown; returns how many."""
        pending = self.store.deliveries("pending")
        for delivery in pending:
            self._spawn(delivery.id)
        return len(pending)

    async def stop(self) -> None:
        """Cancel in-flight deliveries (they stay pending) and close the client."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    def enqueue(self, job: JobRecord, event: str, data: dict[str, Any]) -> None:
        """Store and start a delivery when the job subscribed to ``event``.

        Args:
            job: the job.
            event: ``completed``, ``failed``, ``cancelled`` or ``progress``.
            data: the payload's ``data``.
        """
        hook = job.webhook
        if not hook or event not in hook.get("events", ()):
            return
        now = self.lifecycle.clock()
        payload = json.dumps(
            {"event": event, "jobId": job.id, "timestamp": iso(now), "data": data},
            separators=(",", ":"),
        ).encode()
        delivery = self.store.add_delivery(
            f"dlv_{uuid.uuid4().hex}",
            NewDelivery(
                job_id=job.id,
                owner=job.owner,
                url=hook["url"],
                secret=hook.get("secret"),
                event=event,
                payload=payload,
            ),
            now,
        )
        self._spawn(delivery.id)

    def redeliver(self, delivery_id: str) -> Delivery | None:
        """Send a failed delivery again (a fresh set of attempts, same delivery id).

        Args:
            delivery_id: the delivery.
        """
        delivery = self.store.get_delivery(delivery_id)
        if delivery is None:
            return None
        if delivery.state != "pending":
            self.store.update_delivery(
                delivery_id, state="pending", attempts=0, updated_at=self.lifecycle.clock()
            )
            self._spawn(delivery_id)
        return self.store.get_delivery(delivery_id)

    def _spawn(self, delivery_id: str) -> None:
        task = asyncio.create_task(self._deliver(delivery_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delivery_id: str) -> None:
        delay = self.config.webhook_backoff
        while True:
            delivery = self.store.get_delivery(delivery_id)
            if delivery is None or delivery.state != "pending":
                return
            status, error = await self._attempt(delivery)
            attempts = delivery.attempts + 1
            now = self.lifecycle.clock()
            if status is not None and 200 <= status < 300:
                self.store.update_delivery(
                    delivery_id,
                    state="delivered",
                    attempts=attempts,
                    last_status=status,
                    last_error=None,
                    updated_at=now,
                )
                return
            final = (status is not None and 400 <= status < 500) or (
                attempts >= self.config.webhook_attempts
            )
            self.store.update_delivery(
                delivery_id,
                attempts=attempts,
                last_status=status,
                last_error=error,
                updated_at=now,
                state="failed" if final else "pending",
            )
            if final:
                log.warning("webhook %s for job %s failed: %s", delivery_id, delivery.job_id, error)
                return
            await asyncio.sleep(delay)
            delay *= 2

    async def _attempt(self, delivery: Delivery) -> tuple[int | None, str | None]:
        timestamp = int(self.lifecycle.clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "jobctl-reference-server",
            "X-Webhook-Event": delivery.event,
            "X-Webhook-Delivery": delivery.id,
        }
        if delivery.secret:
            headers.update(sign(delivery.secret, delivery.id, timestamp, delivery.payload))
        else:
            headers.update({"webhook-id": delivery.id, "webhook-timestamp": str(timestamp)})
        try:
            response = await self._client.post(
                delivery.url, content=delivery.payload, headers=headers
            )
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"receiver answered HTTP {response.status_code}"
