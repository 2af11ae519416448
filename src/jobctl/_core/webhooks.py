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

Pure: ``now`` is an argument here; the public module ``jobctl.webhooks`` reads
the clock when its caller passes none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError, field_validator

from ..errors import JobctlError
from ..models import JobError, JobStatus, Progress, _coerce_status, _Wire

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

DEFAULT_TOLERANCE = 300.0
"""Seconds a delivery's timestamp may be off the receiver's clock, either way."""

Reason = Literal["missing", "malformed", "mismatch", "timestamp", "payload"]
Scheme = Literal["standard", "sha256"]

_DIGITS = re.compile(r"[0-9]{1,15}")
_HEX = re.compile(r"[0-9a-fA-F]{64}")
_WHSEC_PREFIX = "whsec_"
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


class InvalidSignatureError(JobctlError):
    """A webhook delivery did not verify.

    Args:
        message: one sentence saying what failed; never contains a secret.
        reason: ``missing`` (no signature header), ``malformed`` (a header cannot
            be parsed), ``mismatch`` (no signature matches any secret),
            ``timestamp`` (outside the tolerance) or ``payload`` (the signature
            is valid but the body is not a webhook delivery).
    """

    def __init__(self, message: str, *, reason: Reason) -> None:
        super().__init__(message)
        self.reason: Reason = reason


class WebhookData(_Wire):
    """The ``data`` object of a delivery.

    Args:
        status: the job's status (a ``JobStatus``, or the raw string if unknown).
        result_url: where a completed job's result can be downloaded.
        error: why a failed job failed.
        progress: how far the job is (``progress`` events).
    """

    status: JobStatus | str
    result_url: str | None = None
    error: JobError | None = None
    progress: Progress | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> JobStatus | str:
        return _coerce_status(value)  # an unknown status stays a str, logged once


class WebhookEvent(_Wire):
    """A verified webhook delivery.

    Args:
        event: ``completed``, ``failed``, ``progress`` or ``cancelled``.
        job_id: the job the delivery is about (``jobId``).
        timestamp: when the event happened (from the body).
        data: the job's status and, depending on the event, result URL, error or progress.
        delivery_id: the delivery's id (``webhook-id`` or ``X-Webhook-Delivery``);
            receivers use it to drop a redelivered duplicate.
        scheme: which signature verified it, ``standard`` or ``sha256``.
    """

    event: str
    job_id: str
    timestamp: datetime
    data: WebhookData
    delivery_id: str | None = None
    scheme: Scheme = "standard"


def _keys(secret: str | Sequence[str]) -> list[tuple[bytes, bytes]]:
    """(Standard Webhooks key, sha256-scheme key) for each secret."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise ValueError("no webhook secret given")
    keys = []
    for index, one in enumerate(secrets):
        if not isinstance(one, str) or not one or not one.isprintable():
            raise ValueError("every webhook secret must be a non-empty printable string")
        keys.append((_standard_key(one, index, len(secrets)), one.encode()))
    return keys


def _standard_key(secret: str, index: int, count: int) -> bytes:
    """The Standard Webhooks HMAC key of one secret."""
    if not secret.startswith(_WHSEC_PREFIX):
        return secret.encode()
    encoded = secret[len(_WHSEC_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        which = f"webhook secret {index + 1} of {count}" if count > 1 else "the webhook secret"
        raise ValueError(f"{which} starts with 'whsec_' but the rest is not valid base64")
    return key


def _to_bytes(payload: bytes | str) -> bytes:
    try:
        return payload.encode() if isinstance(payload, str) else bytes(payload)
    except UnicodeEncodeError:
        raise InvalidSignatureError("malformed payload: not text", reason="malformed") from None


def _standard_signature(key: bytes, msg_id: bytes, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, msg_id + b"." + timestamp.encode() + b"." + body, hashlib.sha256).digest()


def sign_webhook(
    payload: bytes | str, secret: str, *, msg_id: str, timestamp: int | float
) -> dict[str, str]:
    """Sign a delivery with both schemes, as a sender (the reference server, tests) does.

    Args:
        payload: the exact body that will be sent.
        secret: the webhook secret (``whsec_<base64>`` or any other string).
        msg_id: the unique delivery id (``webhook-id`` and ``X-Webhook-Delivery``).
        timestamp: the send time in unix seconds (fractions are dropped).

    Returns:
        The headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``,
        ``X-Webhook-Signature`` and ``X-Webhook-Delivery``.

    Raises:
        ValueError: an empty secret or id, or a ``whsec_`` secret that is not base64.
    """
    if not isinstance(secret, str):
        raise ValueError("sign_webhook signs with one secret")
    ((key, raw_key),) = _keys(secret)
    if not msg_id:
        raise ValueError("msg_id must not be empty")
    body = _to_bytes(payload)
    stamp = str(math.floor(timestamp))
    digest = _standard_signature(key, msg_id.encode(), stamp, body)
    hex_digest = hmac.new(raw_key, body, hashlib.sha256).hexdigest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode("ascii"),
        "X-Webhook-Signature": "sha256=" + hex_digest,
        "X-Webhook-Delivery": msg_id,
    }


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}  # a repeated header is joined with ", " (RFC 9110 5.3)
    for name, value in headers.items():
        text = (value.decode("latin-1") if isinstance(value, bytes) else str(value)).strip()
        key = str(name).lower()
        out[key] = f"{out[key]}, {text}" if key in out else text
    return out


def _malformed(what: str) -> InvalidSignatureError:  # a header cannot be parsed
    return InvalidSignatureError(f"malformed header: {what}", reason="malformed")


def _require_match(expected: list[bytes], candidates: list[bytes], header: str) -> None:
    matched = False
    for digest in expected:
        for candidate in candidates:
            matched |= hmac.compare_digest(digest, candidate)
    if not matched:
        raise InvalidSignatureError(
            f"signature mismatch: {header} matches none of the secrets", reason="mismatch"
        )


def _verify_standard(h: dict[str, str], body: bytes, keys: list[tuple[bytes, bytes]]) -> int:
    """Check the Standard Webhooks signature; return the signed timestamp."""
    msg_id, stamp = h.get("webhook-id", ""), h.get("webhook-timestamp", "")
    if not msg_id:
        raise _malformed("webhook-signature is present but webhook-id is missing")
    if not _DIGITS.fullmatch(stamp):
        raise _malformed("webhook-timestamp must be unix seconds (ASCII digits)")
    try:
        id_bytes = msg_id.encode()
    except UnicodeEncodeError:
        raise _malformed("webhook-id is not valid text") from None
    candidates: list[bytes] = []
    for entry in h["webhook-signature"].split():
        version, _, encoded = entry.rstrip(",").partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Canonical base64 only: spare bits set in the last character would give a
        # second spelling of the same signature.
        if len(candidate) == 32 and base64.b64encode(candidate).decode() == encoded:
            candidates.append(candidate)
    if not candidates:
        raise _malformed("webhook-signature holds no 'v1,<base64 HMAC-SHA256>' signature")
    expected = [_standard_signature(key, id_bytes, stamp, body) for key, _ in keys]
    _require_match(expected, candidates, "webhook-signature")
    return int(stamp)


def _verify_sha256(h: dict[str, str], body: bytes, keys: list[tuple[bytes, bytes]]) -> None:
    candidates: list[bytes] = []
    for entry in re.split(r"[\s,]+", h["x-webhook-signature"]):
        prefix, _, hex_digest = entry.partition("=")
        if prefix.lower() == "sha256" and _HEX.fullmatch(hex_digest):
            candidates.append(bytes.fromhex(hex_digest))
    if not candidates:
        raise _malformed("X-Webhook-Signature holds no 'sha256=<64 hex digits>' signature")
    expected = [hmac.new(raw, body, hashlib.sha256).digest() for _, raw in keys]
    _require_match(expected, candidates, "X-Webhook-Signature")


def _check_time(stamp: float, now: float, tolerance: float | None, what: str) -> None:
    age = now - stamp
    if tolerance is None or abs(age) <= tolerance:
        return
    by = math.ceil(abs(age) - tolerance)
    when = f"{age:.0f} s old" if age > 0 else f"{-age:.0f} s in the future"
    raise InvalidSignatureError(
        f"timestamp outside tolerance by {by} s: {what} is {when} (tolerance {tolerance:g} s)",
        reason="timestamp",
    )


def _parse_event(body: bytes, delivery_id: str | None, scheme: Scheme) -> WebhookEvent:
    try:
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        event = WebhookEvent.model_validate(doc)
    except (ValueError, RecursionError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else "not JSON"
        raise InvalidSignatureError(
            f"the signature is valid but the body is not a webhook delivery ({detail})",
            reason="payload",
        ) from None
    return event.model_copy(update={"delivery_id": delivery_id, "scheme": scheme})


def _body_timestamp(body: bytes) -> float | None:
    """The body's ``timestamp`` as unix seconds, None when the body has none."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("timestamp") is None:
        return None
    try:
        when = _DATETIME.validate_python(doc["timestamp"])
    except ValidationError:
        raise InvalidSignatureError(
            "the signature is valid but the body's timestamp is not an RFC 3339 time",
            reason="payload",
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def verify_signature(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    now: float,
    tolerance: float | None = DEFAULT_TOLERANCE,
) -> Scheme:
    """Check a delivery's signature and timestamp without decoding the body as a delivery.

    ``verify_webhook`` is this plus decoding; use this one for bodies that are not
    jobctl deliveries (another sender's format, published test vectors).

    Args:
        payload: the raw request body, exactly as received (a ``str`` is encoded as UTF-8).
        headers: the request headers (any mapping; names are matched case-insensitively).
        secret: the webhook secret, or several while rotating keys (any match passes).
        tolerance: seconds a timestamp may be off ``now`` either way; None: no check.
        now: the current unix time.

    Returns:
        The scheme that verified: ``standard`` or ``sha256``.

    Raises:
        InvalidSignatureError: the delivery did not verify (see ``reason``).
        ValueError: no secret, an empty secret, a ``whsec_`` secret that is not
            base64, or a negative tolerance (the receiver's configuration is wrong).
    """
    keys = _keys(secret)
    if tolerance is not None and not tolerance >= 0:
        raise ValueError("tolerance must be a non-negative number of seconds, or None")
    body = _to_bytes(payload)
    h = _lower_headers(headers)
    if "webhook-signature" in h:
        stamp = _verify_standard(h, body, keys)
        _check_time(stamp, now, tolerance, "webhook-timestamp")
        return "standard"
    if "x-webhook-signature" not in h:
        raise InvalidSignatureError(
            "no signature header (expected webhook-signature or X-Webhook-Signature)",
            reason="missing",
        )
    _verify_sha256(h, body, keys)
    stamp_header = h.get("webhook-timestamp")
    if stamp_header is not None:
        if not _DIGITS.fullmatch(stamp_header):
            raise _malformed("webhook-timestamp must be unix seconds (ASCII digits)")
        _check_time(int(stamp_header), now, tolerance, "webhook-timestamp")
    body_time = _body_timestamp(body)
    if body_time is not None:
        _check_time(body_time, now, tolerance, "the body's timestamp")
    return "sha256"


def verify_webhook(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    now: float,
    tolerance: float | None = DEFAULT_TOLERANCE,
) -> WebhookEvent:
    """Verify a webhook delivery and decode its body.

    Args:
        payload: the raw request body, exactly as received (a ``str`` is encoded as UTF-8).
        headers: the request headers (any mapping; names are matched case-insensitively).
        secret: the webhook secret, or several while rotating keys (any match passes).
        tolerance: seconds a timestamp may be off ``now`` either way; None: no check.
        now: the current unix time.

    Returns:
        The delivery as a ``WebhookEvent``.

    Raises:
        InvalidSignatureError: as ``verify_signature``; also reason ``payload``.
        ValueError: as ``verify_signature`` (the receiver's configuration is wrong).
    """
    scheme = verify_signature(payload, headers, secret, tolerance=tolerance, now=now)
    h = _lower_headers(headers)
    if scheme == "standard":
        delivery_id: str | None = h["webhook-id"]
    else:
        delivery_id = h.get("x-webhook-delivery") or h.get("webhook-id") or None
    return _parse_event(_to_bytes(payload), delivery_id, scheme)
