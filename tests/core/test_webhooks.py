"""Webhook signing and verification: published vectors, both schemes, every failure."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest

from jobctl.errors import JobctlError
from jobctl.models import JobStatus
from jobctl.webhooks import (
    InvalidSignatureError,
    WebhookEvent,
    sign_webhook,
    verify_signature,
    verify_webhook,
)

SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

GH_SECRET = "It's a Secret to Everybody"
GH_BODY = b"Hello, World!"
GH_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
NOW = 1_795_801_200  # 2026-11-27T14:20:00Z
DELIVERY = {
    "event": "completed",
    "jobId": "5d1f0c52-1b8c-4a43-9a52-8a3f2d6f7e01",
    "timestamp": datetime.fromtimestamp(NOW, UTC).isoformat().replace("+00:00", "Z"),
    "data": {"status": "completed", "resultUrl": "/api/jobs/5d1f/result"},
}
BODY = json.dumps(DELIVERY).encode()


def signed(body: bytes = BODY, secret: str = SECRET, ts: int = NOW) -> dict[str, str]:
    return sign_webhook(body, secret, msg_id="msg_1", timestamp=ts)


def sha256_only(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if not k.startswith("webhook-")}


def reason_of(body: bytes, headers: dict[str, str], secret: object = SECRET, **kw: object) -> str:
    with pytest.raises(InvalidSignatureError) as info:
        verify_webhook(body, headers, secret, now=kw.pop("now", NOW), **kw)  # type: ignore[arg-type]
    return info.value.reason


# --- published test vectors ----------------------------------------------------------------


def test_standard_webhooks_vector_signs() -> None:
    headers = sign_webhook(SW_BODY, SW_SECRET, msg_id=SW_ID, timestamp=SW_TS)
    assert headers["webhook-signature"] == SW_SIG
    assert headers["webhook-id"] == SW_ID
    assert headers["webhook-timestamp"] == str(SW_TS)


def test_standard_webhooks_vector_verifies_with_injected_clock() -> None:
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TS), "webhook-signature": SW_SIG}
    assert verify_signature(SW_BODY, headers, SW_SECRET, now=SW_TS) == "standard"
    assert verify_signature(SW_BODY, headers, SW_SECRET, now=SW_TS + 300) == "standard"
    with pytest.raises(InvalidSignatureError, match="outside tolerance by 1 s"):
        verify_signature(SW_BODY, headers, SW_SECRET, now=SW_TS + 301)
    # The vector's body is not a jobctl delivery: the signature passes, decoding does not.
    with pytest.raises(InvalidSignatureError, match="signature is valid") as info:
        verify_webhook(SW_BODY, headers, SW_SECRET, now=SW_TS)
    assert info.value.reason == "payload"


def test_github_vector_signs_and_verifies() -> None:
    assert sign_webhook(GH_BODY, GH_SECRET, msg_id="x", timestamp=0)["X-Webhook-Signature"] == (
        GH_SIG
    )
    headers = {"X-Webhook-Signature": GH_SIG}
    assert verify_signature(GH_BODY, headers, GH_SECRET, now=NOW) == "sha256"
    assert verify_signature(GH_BODY.decode(), headers, GH_SECRET, now=NOW) == "sha256"


# --- a real delivery -----------------------------------------------------------------------


def test_delivery_decodes_with_standard_scheme() -> None:
    event = verify_webhook(BODY, signed(), SECRET, now=NOW)
    assert isinstance(event, WebhookEvent)
    assert event.event == "completed"
    assert event.job_id == DELIVERY["jobId"]
    assert event.timestamp == datetime.fromtimestamp(NOW, UTC)
    assert event.data.status is JobStatus.COMPLETED
    assert event.data.result_url == "/api/jobs/5d1f/result"
    assert (event.delivery_id, event.scheme) == ("msg_1", "standard")
    with pytest.raises(ValueError, match="frozen"):
        event.event = "failed"  # type: ignore[misc]


def test_delivery_decodes_with_sha256_scheme() -> None:
    event = verify_webhook(BODY, sha256_only(signed()), SECRET, now=NOW)
    assert (event.delivery_id, event.scheme) == ("msg_1", "sha256")


def test_sha256_scheme_without_delivery_header_has_no_id() -> None:
    headers = {"X-Webhook-Signature": signed()["X-Webhook-Signature"]}
    assert verify_webhook(BODY, headers, SECRET, now=NOW).delivery_id is None


def test_progress_and_failed_deliveries_and_unknown_status() -> None:
    for data in (
        {"status": "processing", "progress": {"current": 2, "total": 5, "message": "page 2"}},
        {"status": "failed", "error": {"code": "boom", "message": "no", "retryable": True}},
        {"status": "paused", "extra": 1},
    ):
        body = json.dumps({**DELIVERY, "event": "progress", "data": data, "new": 1}).encode()
        event = verify_webhook(body, signed(body), SECRET, now=NOW)
        assert event.data.status == data["status"]
    assert event.data.status == "paused" and not isinstance(event.data.status, JobStatus)


def test_plain_secret_works_for_both_schemes() -> None:
    headers = signed(secret="plain secret")
    assert verify_webhook(BODY, headers, "plain secret", now=NOW).scheme == "standard"
    assert verify_webhook(BODY, sha256_only(headers), "plain secret", now=NOW).scheme == "sha256"


def test_sha256_scheme_uses_whsec_secret_bytes_as_given() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert signed()["X-Webhook-Signature"] == "sha256=" + expected


def test_headers_match_case_insensitively_and_httpx_headers_work() -> None:
    upper = {k.upper(): v for k, v in signed().items()}
    assert verify_webhook(BODY, upper, SECRET, now=NOW).scheme == "standard"
    assert verify_webhook(BODY, httpx.Headers(signed()), SECRET, now=NOW).delivery_id == "msg_1"
    lower = {k.lower(): v for k, v in sha256_only(signed()).items()}
    assert verify_webhook(BODY, lower, SECRET, now=NOW).scheme == "sha256"


def test_str_payload_is_encoded_as_utf8() -> None:
    body = json.dumps({**DELIVERY, "event": "prögress"}, ensure_ascii=False)
    event = verify_webhook(body, signed(body.encode()), SECRET, now=NOW)
    assert event.event == "prögress"


# --- timestamps ----------------------------------------------------------------------------


def test_replayed_delivery_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError) as info:
        verify_webhook(BODY, signed(), SECRET, now=NOW + 3600)
    assert info.value.reason == "timestamp"
    assert str(info.value) == (
        "timestamp outside tolerance by 3300 s: webhook-timestamp is 3600 s old (tolerance 300 s)"
    )


def test_future_timestamp_is_rejected() -> None:
    with pytest.raises(InvalidSignatureError, match=r"by 1 s.*301 s in the future"):
        verify_webhook(BODY, signed(), SECRET, now=NOW - 301)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamps_within_tolerance_pass(offset: int) -> None:
    verify_webhook(BODY, signed(), SECRET, now=NOW + offset)


def test_tolerance_is_configurable_and_none_disables_it() -> None:
    assert reason_of(BODY, signed(), now=NOW + 11, tolerance=10) == "timestamp"
    verify_webhook(BODY, signed(), SECRET, now=NOW + 10**9, tolerance=None)
    with pytest.raises(ValueError, match="tolerance"):
        verify_webhook(BODY, signed(), SECRET, now=NOW, tolerance=-1)


def test_default_clock_is_used_when_now_is_not_given() -> None:
    assert reason_of(BODY, signed(), now=None) == "timestamp"  # NOW is not today


def test_sha256_scheme_checks_the_body_timestamp() -> None:
    headers = sha256_only(signed())
    assert reason_of(BODY, headers, now=NOW + 301) == "timestamp"
    with pytest.raises(InvalidSignatureError, match="the body's timestamp is 400 s old"):
        verify_webhook(BODY, headers, SECRET, now=NOW + 400)


def test_sha256_scheme_checks_webhook_timestamp_when_present() -> None:
    headers = sha256_only(signed())
    headers["webhook-timestamp"] = str(NOW - 1000)
    with pytest.raises(InvalidSignatureError, match="webhook-timestamp is 1000 s old"):
        verify_webhook(BODY, headers, SECRET, now=NOW)
    headers["webhook-timestamp"] = "soon"
    assert reason_of(BODY, headers) == "malformed"


def test_sha256_scheme_naive_body_timestamp_is_utc() -> None:
    body = json.dumps({**DELIVERY, "timestamp": DELIVERY["timestamp"][:-1]}).encode()
    verify_webhook(body, sha256_only(signed(body)), SECRET, now=NOW)
    assert reason_of(body, sha256_only(signed(body)), now=NOW + 301) == "timestamp"


def test_sha256_scheme_with_unparseable_body_timestamp() -> None:
    body = json.dumps({**DELIVERY, "timestamp": "yesterday"}).encode()
    assert reason_of(body, sha256_only(signed(body))) == "payload"


# --- signatures ----------------------------------------------------------------------------


def test_wrong_secret_is_a_mismatch() -> None:
    other = "whsec_" + base64.b64encode(b"x" * 24).decode()
    assert reason_of(BODY, signed(), other) == "mismatch"
    assert reason_of(BODY, sha256_only(signed()), other) == "mismatch"


def test_wrong_secret_with_stale_timestamp_reports_the_mismatch() -> None:
    assert reason_of(BODY, signed(secret="other"), now=NOW + 10**6) == "mismatch"


def test_changed_body_is_a_mismatch() -> None:
    changed = BODY.replace(b"completed", b"cancelled", 1)
    assert reason_of(changed, signed()) == "mismatch"
    assert reason_of(changed, sha256_only(signed())) == "mismatch"


def test_rotation_any_secret_passes() -> None:
    old, new = "old secret", SECRET
    for secrets in ([old, new], [new, old], (new,), [new]):
        verify_webhook(BODY, signed(secret=new), secrets, now=NOW)
        verify_webhook(BODY, sha256_only(signed(secret=new)), secrets, now=NOW)
    assert reason_of(BODY, signed(secret=new), ["a", "b"]) == "mismatch"


def test_any_of_several_signatures_in_the_header_passes() -> None:
    headers = signed()
    good = headers["webhook-signature"]
    other = signed(secret="other")["webhook-signature"]
    for value in (f"{other} {good}", f"v1a,abc {good}", f"v2,{good[3:]} {good}", f"  {good}  "):
        headers["webhook-signature"] = value
        verify_webhook(BODY, headers, SECRET, now=NOW)
    headers["webhook-signature"] = f"v1a,{good[3:]} {other}"
    assert reason_of(BODY, headers) == "mismatch"


def test_sha256_hex_case_and_lists() -> None:
    sig = sha256_only(signed())["X-Webhook-Signature"]
    for value in (sig.upper(), "SHA256=" + sig[7:], f"sha1=abc, {sig}", f"{sig},sha256={'0' * 64}"):
        verify_webhook(BODY, {"X-Webhook-Signature": value}, SECRET, now=NOW)


def test_standard_scheme_is_preferred_and_never_falls_back() -> None:
    headers = signed()
    headers["webhook-timestamp"] = str(NOW + 1)  # a rewritten timestamp breaks Standard ...
    assert reason_of(BODY, headers) == "mismatch"  # ... and sha256= is not consulted
    headers = signed()
    headers["X-Webhook-Signature"] = "sha256=" + "0" * 64  # a wrong sha256= is not consulted
    assert verify_webhook(BODY, headers, SECRET, now=NOW).scheme == "standard"


# --- malformed and missing headers ---------------------------------------------------------


def test_no_signature_header() -> None:
    with pytest.raises(InvalidSignatureError, match="no signature header") as info:
        verify_webhook(BODY, {"Content-Type": "application/json"}, SECRET, now=NOW)
    assert info.value.reason == "missing"
    assert isinstance(info.value, JobctlError)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("webhook-id", None, "webhook-id is missing"),
        ("webhook-id", "", "webhook-id is missing"),
        ("webhook-timestamp", None, "webhook-timestamp must be unix seconds"),
        ("webhook-timestamp", "+1795801200", "webhook-timestamp must be unix seconds"),
        ("webhook-timestamp", "1795801200.5", "webhook-timestamp must be unix seconds"),
        ("webhook-timestamp", "١٧٩٥", "webhook-timestamp must be unix seconds"),
        ("webhook-signature", "", "no 'v1,<base64"),
        ("webhook-signature", "v1,", "no 'v1,<base64"),
        ("webhook-signature", "v1,not base64!", "no 'v1,<base64"),
        ("webhook-signature", "v1,AAAA", "no 'v1,<base64"),  # too short for HMAC-SHA256
        ("webhook-signature", "v1a,abc", "no 'v1,<base64"),
    ],
)
def test_malformed_standard_headers(name: str, value: str | None, message: str) -> None:
    headers = signed()
    if value is None:
        del headers[name]
    else:
        headers[name] = value
    with pytest.raises(InvalidSignatureError, match=message) as info:
        verify_webhook(BODY, headers, SECRET, now=NOW)
    assert info.value.reason == "malformed"
    assert str(info.value).startswith("malformed header: ")


@pytest.mark.parametrize("value", ["", "sha256=", "sha256=xyz", "sha1=" + "0" * 40, "0" * 64])
def test_malformed_sha256_header(value: str) -> None:
    assert reason_of(BODY, {"X-Webhook-Signature": value}) == "malformed"


def test_body_that_is_not_a_delivery() -> None:
    for body in (b"not json", b"[1, 2]", b'{"event": "completed"}', b"\xff\xfe"):
        assert reason_of(body, signed(body)) == "payload"
    with pytest.raises(InvalidSignatureError, match=r"jobId: Field required"):
        verify_webhook(b'{"event": "x"}', signed(b'{"event": "x"}'), SECRET, now=NOW)


# --- secrets and configuration -------------------------------------------------------------


def test_secret_and_expected_signature_never_in_messages() -> None:
    secret = "whsec_" + base64.b64encode(b"hunter2-" * 4).decode()
    good = signed(secret=secret)
    cases = [
        ({}, NOW),
        (signed(secret="other"), NOW),
        (good, NOW + 999),
        ({**good, "webhook-id": ""}, NOW),
        (sha256_only(signed(secret="other")), NOW),
    ]
    for headers, now in cases:
        with pytest.raises(InvalidSignatureError) as info:
            verify_webhook(BODY + b" ", headers, secret, now=now)
        text = str(info.value) + repr(info.value)
        for needle in (
            secret,
            secret[6:],
            good["webhook-signature"][3:],
            good["X-Webhook-Signature"][7:],
        ):
            assert needle not in text


@pytest.mark.parametrize(
    "secret", [[], [""], "", ["ok", ""], "whsec_!!!not base64!!!", "whsec_", "tab\tsecret"]
)
def test_bad_secret_configuration_is_a_value_error(secret: str | list[str]) -> None:
    with pytest.raises(ValueError) as info:
        verify_webhook(BODY, signed(), secret, now=NOW)
    if isinstance(secret, str) and len(secret) > len("whsec_"):
        assert secret not in str(info.value)
        assert "!!!" not in str(info.value)


def test_bad_whsec_secret_message_names_its_position() -> None:
    with pytest.raises(ValueError, match="webhook secret 2 of 2 starts with 'whsec_'"):
        verify_webhook(BODY, signed(), [SECRET, "whsec_%%%"], now=NOW)


def test_sign_webhook_headers_and_arguments() -> None:
    headers = sign_webhook(BODY.decode(), SECRET, msg_id="msg_9", timestamp=NOW + 0.9)
    assert set(headers) == {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "X-Webhook-Signature",
        "X-Webhook-Delivery",
    }
    assert headers["webhook-timestamp"] == str(NOW)
    assert headers["X-Webhook-Delivery"] == "msg_9"
    with pytest.raises(ValueError, match="msg_id"):
        sign_webhook(BODY, SECRET, msg_id="", timestamp=NOW)
    with pytest.raises(ValueError, match="one secret"):
        sign_webhook(BODY, [SECRET], msg_id="m", timestamp=NOW)  # type: ignore[arg-type]


def test_non_canonical_base64_spelling_of_the_right_signature_is_rejected() -> None:
    headers = signed()
    sig = headers["webhook-signature"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = sig[-2]  # the last data character; 32 bytes leave its 2 low bits spare
    twin = alphabet[alphabet.index(last) ^ 1]
    assert base64.b64decode(sig[3:-2] + twin + "=") == base64.b64decode(sig[3:])
    headers["webhook-signature"] = sig[:-2] + twin + "="
    assert reason_of(BODY, headers) == "malformed"


def test_repeated_signature_headers_are_combined() -> None:
    good = signed()
    other = signed(secret="other")
    for first, second in ((other, good), (good, other)):
        headers = httpx.Headers(
            [(k, v) for k, v in good.items() if k != "webhook-signature"]
            + [("webhook-signature", first["webhook-signature"])]
            + [("Webhook-Signature", second["webhook-signature"])]
        )
        assert verify_webhook(BODY, headers, SECRET, now=NOW).scheme == "standard"
    # A plain dict with the same header under two spellings counts both.
    both = {**good, "WEBHOOK-SIGNATURE": other["webhook-signature"]}
    assert verify_webhook(BODY, both, SECRET, now=NOW).scheme == "standard"
    # Two different ids are ambiguous: the signature cannot match.
    assert reason_of(BODY, {**good, "Webhook-Id": "msg_2"}) == "mismatch"
