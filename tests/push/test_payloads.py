"""Provider payloads from neutral notifications (pure functions)."""
from __future__ import annotations

import json
import os

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings, strategies as st

from models.dialogs import Dialog, DialogType
from models.services.push import is_e2ee, truncate
from models.services.push_events import decode_message, universal_notification
from push.errors import PermanentPushError
from push.payloads import (WEBPUSH_MAX_BYTES, apns_request, fcm_parts, webpush_body, webpush_ttl,
                           webpush_urgency)
from push.senders.webpush import encrypt_aes128gcm


def test_universal_payload_maps_to_each_platform():
    n = universal_notification({
        "message": "Walking in a flowers garden", "ios_badge": "2", "ios_sound": "lounge.wav",
        "ios_thread_id": "t1", "ios_category": "INVITE", "ios_mutable_content": "1",
        "friend_id": 51, "ios_loc_data": {"title_loc_key": "GREETING", "title_loc_args": ["Tom"]},
        "android_fcm_notification": {"channel_id": "chat"}})
    apns = apns_request(n, "apns")
    assert apns.payload == {
        "friend_id": 51, "message": "Walking in a flowers garden",
        "aps": {"alert": {"body": "Walking in a flowers garden", "title-loc-key": "GREETING",
                          "title-loc-args": ["Tom"]},
                "badge": 2, "sound": "lounge.wav", "thread-id": "t1", "category": "INVITE",
                "mutable-content": 1}}
    assert (apns.push_type, apns.priority) == ("alert", 10)
    fcm = fcm_parts(n, now=1000)
    assert fcm["data_payload"] == {"friend_id": "51", "message": "Walking in a flowers garden",
                                   "badge": "2"}
    assert fcm["android_config"] == {"priority": "high", "notification": {"channel_id": "chat"}}
    assert json.loads(webpush_body(n)) == {"data": {"friend_id": 51, "badge": 2,
                                                    "message": "Walking in a flowers garden"}}


def test_background_push_and_expiration():
    n = universal_notification({"ios_content_available": 1, "ios_push_type": "background",
                                "sync": "1", "expiration": 1600})
    apns = apns_request(n, "apns")
    assert apns.push_type == "background" and apns.priority == 5
    assert apns.payload == {"sync": "1", "aps": {"content-available": 1}}
    assert apns.expiration == 1600
    assert fcm_parts(n, now=1000)["android_config"] == {"priority": "normal", "ttl": "600s"}
    assert webpush_ttl(n, now=1000, default=86400) == 600
    assert webpush_urgency(n) == "normal"


def test_raw_platform_payload_passes_through():
    raw = {"aps": {"alert": "Ring"}, "call": "c1"}
    assert apns_request({"raw": raw, "push_type": "voip"}, "apns_voip").payload == raw
    assert apns_request({"raw": raw, "push_type": "alert"}, "apns_voip").push_type == "voip"
    parts = fcm_parts({"raw": {"data": {"a": 1}, "notification": {"title": "T"}}}, now=0)
    assert parts["data_payload"] == {"a": "1"} and parts["notification_title"] == "T"


def test_size_limits_raise_permanent_errors():
    big = {"body": "x" * 5000}
    with pytest.raises(PermanentPushError, match="APNs"):
        apns_request(big, "apns")
    apns_request({"body": "x" * 4500}, "apns_voip")  # VoIP allows 5 KB
    with pytest.raises(PermanentPushError, match="FCM"):
        fcm_parts(big, now=0)
    with pytest.raises(PermanentPushError, match="WebPush"):
        webpush_body({"body": "x" * WEBPUSH_MAX_BYTES})


def test_decode_message_forms_and_errors():
    from models.errors import InvalidError

    assert decode_message("eyJtZXNzYWdlIjoiaMOpbGxvIn0=", 4096) == (False, {"message": "héllo"})
    assert decode_message("payload=eyJhIjoxfQ", 4096) == (True, {"a": 1})  # unpadded is fine
    assert decode_message("aGVsbG8=", 4096) == (False, "hello")
    for bad in ("not base64!", "", "//8=", None):
        with pytest.raises(InvalidError):
            decode_message(bad, 4096)
    with pytest.raises(InvalidError, match="too long"):
        decode_message("QUFB" * 2000, 4096)


@given(st.text(min_size=0, max_size=600), st.integers(min_value=1, max_value=300))
def test_truncate_never_exceeds_the_limit(text, limit):
    cut = truncate(text, limit)
    assert len(cut) <= max(limit, 1)
    if len(" ".join(text.split())) <= limit:
        assert cut == " ".join(text.split())


def _dialog(extensions: dict | None) -> Dialog:
    return Dialog(id="65a1b2c3d4e5f6a7b8c9d0e1", app_id=1, type=DialogType.GROUP, extensions=extensions)


def test_e2ee_flags():
    # the flags live in the dialog's extensions (a stored dialog has no other place for them)
    assert is_e2ee(_dialog({"e2ee": "1"})) and is_e2ee(_dialog({"is_e2ee": True}))
    assert is_e2ee(_dialog({"is_e2ee": "true"}))
    assert not is_e2ee(_dialog({"e2ee": "0"})) and not is_e2ee(_dialog(None))


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=WEBPUSH_MAX_BYTES))
def test_webpush_encryption_is_read_by_http_ece(plaintext):
    browser = ec.generate_private_key(ec.SECP256R1())
    receiver = browser.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    first = encrypt_aes128gcm(plaintext, receiver, auth)
    second = encrypt_aes128gcm(plaintext, receiver, auth)
    for body in (first, second):
        assert http_ece.decrypt(body, private_key=browser, auth_secret=auth,
                                version="aes128gcm") == plaintext
        assert len(body) <= 4096
    assert first[:16] != second[:16] and first[21:86] != second[21:86]  # fresh salt and key
