"""Property tests of webhook verification, cross-checked against the standardwebhooks package."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobctl.webhooks import InvalidSignatureError, sign_webhook, verify_signature, verify_webhook

standardwebhooks = pytest.importorskip("standardwebhooks.webhooks")
Webhook = standardwebhooks.Webhook

NOW = 1_795_801_200
keys = st.binary(min_size=1, max_size=64)
whsec = keys.map(lambda k: "whsec_" + base64.b64encode(k).decode())
msg_ids = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1)
# The "§" keeps a secret from being a substring of an error message by chance.
plain_secrets = st.text(min_size=8, max_size=40).map(lambda t: "§" + t).filter(str.isprintable)


def delivery(ts: int = NOW) -> bytes:
    return json.dumps(
        {
            "event": "progress",
            "jobId": "j1",
            "timestamp": datetime.fromtimestamp(ts, UTC).isoformat(),
            "data": {"status": "processing", "progress": {"current": 1, "total": 3}},
        }
    ).encode()


# --- cross-check with the reference implementation -----------------------------------------


@given(
    whsec,
    msg_ids,
    st.integers(min_value=0, max_value=2**33),
    st.text(max_size=200).filter(lambda t: t.isprintable()),
)
def test_signature_equals_standardwebhooks(secret: str, msg_id: str, ts: int, body: str) -> None:
    theirs = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, UTC), body)
    ours = sign_webhook(body, secret, msg_id=msg_id, timestamp=ts)["webhook-signature"]
    assert ours == theirs


@settings(max_examples=50)
@given(whsec, msg_ids)
def test_standardwebhooks_verifies_ours_and_we_verify_theirs(secret: str, msg_id: str) -> None:
    now = int(time.time())  # the package reads the real clock; we take it as an argument
    body = delivery(now)
    ours = sign_webhook(body, secret, msg_id=msg_id, timestamp=now)
    assert Webhook(secret).verify(body, ours)["jobId"] == "j1"
    theirs = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": Webhook(secret).sign(
            msg_id, datetime.fromtimestamp(now, UTC), body.decode()
        ),
    }
    event = verify_webhook(body, theirs, secret, now=now)
    assert (event.job_id, event.delivery_id, event.scheme) == ("j1", msg_id, "standard")


def test_standardwebhooks_rejects_what_we_reject_as_stale() -> None:
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    body = delivery(NOW)
    headers = sign_webhook(body, secret, msg_id="m", timestamp=NOW)
    with pytest.raises(standardwebhooks.WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, headers)
    with pytest.raises(InvalidSignatureError, match="old"):
        verify_webhook(body, headers, secret)


# --- tampering -----------------------------------------------------------------------------


@given(st.data(), st.sampled_from(["standard", "sha256"]))
def test_any_single_byte_flip_in_the_body_is_rejected(data: st.DataObject, scheme: str) -> None:
    body = delivery()
    headers = sign_webhook(body, "a-shared-secret", msg_id="m1", timestamp=NOW)
    if scheme == "sha256":
        headers = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    position = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    mask = data.draw(st.integers(min_value=1, max_value=255))
    tampered = bytearray(body)
    tampered[position] ^= mask
    with pytest.raises(InvalidSignatureError) as info:
        verify_webhook(bytes(tampered), headers, "a-shared-secret", now=NOW)
    assert info.value.reason == "mismatch"


@given(st.sampled_from(["webhook-signature", "X-Webhook-Signature", "webhook-id"]), st.data())
def test_any_change_to_a_signed_header_is_rejected(name: str, data: st.DataObject) -> None:
    headers = sign_webhook(delivery(), "a-shared-secret", msg_id="m1", timestamp=NOW)
    if name == "X-Webhook-Signature":
        headers = {name: headers[name]}
    value = headers[name]
    position = data.draw(st.integers(min_value=0, max_value=len(value) - 1))
    replacement = data.draw(st.characters(min_codepoint=33, max_codepoint=126))
    headers[name] = value[:position] + replacement + value[position + 1 :]
    if headers[name] == value:
        return
    if headers[name].lower() == value.lower() and name == "X-Webhook-Signature":
        return  # hex digits are case-insensitive: the same signature
    with pytest.raises(InvalidSignatureError) as info:
        verify_webhook(delivery(), headers, "a-shared-secret", now=NOW)
    assert info.value.reason in {"mismatch", "malformed"}


@given(st.integers(min_value=-(10**7), max_value=10**7), st.integers(min_value=0, max_value=900))
def test_tolerance_window_is_symmetric(offset: int, tolerance: int) -> None:
    headers = sign_webhook(delivery(), "s3cret-s3cret", msg_id="m", timestamp=NOW)
    try:
        verify_webhook(delivery(), headers, "s3cret-s3cret", now=NOW + offset, tolerance=tolerance)
    except InvalidSignatureError as exc:
        assert exc.reason == "timestamp"
        assert abs(offset) > tolerance
        assert f"by {abs(offset) - tolerance} s" in str(exc)
    else:
        assert abs(offset) <= tolerance


# --- hostile headers -----------------------------------------------------------------------

header_names = st.one_of(
    st.sampled_from(
        [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "Webhook-Signature",
            "X-Webhook-Signature",
            "x-webhook-delivery",
        ]
    ),
    st.text(max_size=20),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(header_names, st.text(max_size=120), max_size=6), st.binary(max_size=64))
def test_arbitrary_headers_only_ever_raise_invalid_signature(
    headers: dict[str, str], body: bytes
) -> None:
    with pytest.raises(InvalidSignatureError):
        verify_webhook(body, headers, ["first-secret-value", "whsec_c2Vjb25k"], now=NOW)


@settings(max_examples=200)
@given(
    st.sampled_from(
        ["webhook-id", "webhook-timestamp", "webhook-signature", "X-Webhook-Signature"]
    ),
    st.text(max_size=120),
)
def test_one_arbitrary_header_value_in_a_valid_delivery(name: str, value: str) -> None:
    headers = sign_webhook(delivery(), "a-shared-secret", msg_id="m1", timestamp=NOW)
    original, headers[name] = headers[name], value
    try:
        verify_webhook(delivery(), headers, "a-shared-secret", now=NOW)
    except InvalidSignatureError:
        return
    # It passed: either the value still holds the original (padding, extra signatures) or
    # it is the sha256= header, which is not consulted when Standard headers are present.
    assert name == "X-Webhook-Signature" or original in value


@given(plain_secrets, st.sampled_from(["other", "stale", "none", "sha256", "broken"]))
def test_secret_never_appears_in_errors(secret: str, case: str) -> None:
    body = delivery()
    good = sign_webhook(body, secret, msg_id="m1", timestamp=NOW)
    headers, now = {
        "other": (sign_webhook(body, "x" * 16, msg_id="m1", timestamp=NOW), NOW),
        "stale": (good, NOW + 10_000),
        "none": ({}, NOW),
        "sha256": ({"X-Webhook-Signature": "sha256=" + "ab" * 32}, NOW),
        "broken": ({**good, "webhook-timestamp": "x"}, NOW),
    }[case]
    with pytest.raises(InvalidSignatureError) as info:
        verify_webhook(body, headers, [secret, "second-secret-value"], now=now)
    text = str(info.value) + repr(info.value) + repr(info.value.args)
    assert secret not in text
    assert good["webhook-signature"][3:] not in text
    assert good["X-Webhook-Signature"][7:] not in text
    assert "\n" not in str(info.value)


@given(plain_secrets)
def test_sign_then_verify_round_trip_for_any_plain_secret(secret: str) -> None:
    headers = sign_webhook(delivery(), secret, msg_id="m", timestamp=NOW)
    assert verify_signature(delivery(), headers, secret, now=NOW) == "standard"
    sha = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}
    assert verify_signature(delivery(), sha, secret, now=NOW) == "sha256"
