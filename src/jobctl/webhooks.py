"""Sign and verify webhook deliveries (both schemes of docs/protocol.md; docs/protocol.md has more).

``verify_webhook(body, headers, secret)`` returns a typed ``WebhookEvent`` or raises
``InvalidSignatureError`` saying what failed; ``verify_signature`` checks without
decoding the body; ``sign_webhook`` makes both schemes' headers. The schemes:

- Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (unix seconds),
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``
  (several space-separated signatures allowed); the key is the base64 after
  ``whsec_`` when the secret has that prefix, else the secret's UTF-8 bytes.
- ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret's UTF-8 bytes, body)>``.

Decisions where docs/protocol.md is silent:

- When ``webhook-signature`` is present, Standard Webhooks alone decides: no
  fallback to ``sha256=``, which signs no timestamp, so falling back would let an
  old delivery with a rewritten ``webhook-timestamp`` through.
- Every secret given is tried (key rotation), with ``hmac.compare_digest``;
  header names match case-insensitively.
- Timestamps are checked after the signature (a wrong secret reads as a
  mismatch), too old and too new alike (tolerance 300 s; None turns it off).
  Standard Webhooks checks its signed ``webhook-timestamp``. ``sha256=`` checks
  the body's ``timestamp`` when there is one (it is signed) and
  ``webhook-timestamp`` when present; the body's is the event's time, so a
  manual redelivery of an old event through ``sha256=`` needs a larger tolerance.
- Messages name what failed and never contain a secret or an expected signature.

The logic is pure and lives in ``jobctl._core.webhooks`` (``now`` is an argument
there); this public module reads the clock when its caller passes no ``now``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ._core import webhooks as _pure
from ._core.webhooks import (
    DEFAULT_TOLERANCE,
    InvalidSignatureError,
    Reason,
    Scheme,
    WebhookData,
    WebhookEvent,
    sign_webhook,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "InvalidSignatureError",
    "Reason",
    "Scheme",
    "WebhookData",
    "WebhookEvent",
    "sign_webhook",
    "verify_signature",
    "verify_webhook",
]


def verify_signature(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Scheme:
    """Check a delivery's signature and timestamp without decoding the body as a delivery.

    ``verify_webhook`` is this plus decoding; use this one for bodies that are not
    jobctl deliveries (another sender's format, published test vectors).

    Args:
        payload: the raw request body, exactly as received (a ``str`` is encoded as UTF-8).
        headers: the request headers (any mapping; names are matched case-insensitively).
        secret: the webhook secret, or several while rotating keys (any match passes).
        tolerance: seconds a timestamp may be off ``now`` either way; None: no check.
        now: the current unix time; ``time.time()`` when None.

    Returns:
        The scheme that verified: ``standard`` or ``sha256``.

    Raises:
        InvalidSignatureError: the delivery did not verify (see ``reason``).
        ValueError: no secret, an empty secret, a ``whsec_`` secret that is not
            base64, or a negative tolerance (the receiver's configuration is wrong).
    """
    clock = time.time() if now is None else now
    return _pure.verify_signature(payload, headers, secret, tolerance=tolerance, now=clock)


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> WebhookEvent:
    """Verify a webhook delivery and decode its body.

    Args:
        payload: the raw request body, exactly as received (a ``str`` is encoded as UTF-8).
        headers: the request headers (any mapping; names are matched case-insensitively).
        secret: the webhook secret, or several while rotating keys (any match passes).
        tolerance: seconds a timestamp may be off ``now`` either way; None: no check.
        now: the current unix time; ``time.time()`` when None.

    Returns:
        The delivery as a ``WebhookEvent``.

    Raises:
        InvalidSignatureError: as ``verify_signature``; also reason ``payload``.
        ValueError: as ``verify_signature`` (the receiver's configuration is wrong).
    """
    clock = time.time() if now is None else now
    return _pure.verify_webhook(payload, headers, secret, tolerance=tolerance, now=clock)
