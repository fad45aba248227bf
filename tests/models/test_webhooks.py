"""Webhook bodies (one stable shape per type), the signature, the address rules, and the
`user_created` event signing up publishes."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

import pytest
from bson import ObjectId

from models.users import UserDraft
from models.webhooks import (EVENT_TYPES, Webhook, bodies_for, dump_body, parse_networks,
                             refused_address, sign, signature_header, verify)
from tests.push.webhook_receiver import verify_signature

WHEN = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
ID = ObjectId("6650c0ffee0000000000abcd")


def event(kind, **fields):
    return {"_id": ID, "kind": kind, "app_id": 3, "created_at": WHEN, "dialog_id": None,
            "sender_id": 0, "recipient_ids": [], "payload": {}, **fields}


@pytest.mark.parametrize("source, expected", [
    (event("message_created", dialog_id="d1", sender_id=5, payload={
        "message": {"_id": "m1", "message": "hi", "date_sent": 1767268800, "custom_key": "x",
                    "created_at": WHEN}, "dialog_type": 2, "custom": {}, "silent": False}),
     [("message_created", {"dialog_id": "d1", "dialog_type": 2, "sender_id": 5, "message": {
         "_id": "m1", "message": "hi", "date_sent": 1767268800, "custom_key": "x",
         "created_at": "2026-01-01T12:00:00+00:00"}})]),
    (event("message_updated", dialog_id="d1", sender_id=5, payload={
        "message_id": "m1", "message": "edited", "last": True, "dialog_type": 3, "user_id": 5}),
     [("message_updated", {"dialog_id": "d1", "dialog_type": 3, "message_id": "m1",
                           "message": "edited", "user_id": 5})]),
    (event("message_deleted", dialog_id="d1", sender_id=5, payload={
        "message_ids": ["m1", "m2"], "dialog_type": 2, "user_id": 5}),
     [("message_deleted", {"dialog_id": "d1", "dialog_type": 2, "message_ids": ["m1", "m2"],
                           "user_id": 5})]),
    (event("dialog_created", dialog_id="d1", sender_id=5, payload={"type": 2, "occupants_ids": [5, 6]}),
     [("dialog_created", {"dialog_id": "d1", "type": 2, "occupants_ids": [5, 6], "user_id": 5})]),
    (event("dialog_updated", dialog_id="d1", sender_id=5, payload={
        "added_ids": [], "removed_ids": [], "fields": ["name"]}),
     [("dialog_updated", {"dialog_id": "d1", "fields": ["name"], "user_id": 5})]),
    (event("dialog_updated", dialog_id="d1", sender_id=5, payload={
        "added_ids": [7], "removed_ids": [6], "fields": ["occupants_ids"]}),
     [("dialog_updated", {"dialog_id": "d1", "fields": ["occupants_ids"], "user_id": 5}),
      ("dialog_occupants_changed", {"dialog_id": "d1", "added_ids": [7], "removed_ids": [6],
                                    "user_id": 5})]),
    (event("dialog_deleted", dialog_id="d1", sender_id=5, payload={"type": 3}),
     [("dialog_deleted", {"dialog_id": "d1", "type": 3, "user_id": 5})]),
    (event("user_created", sender_id=9, payload={"user": {
        "_id": 9, "login": "ann", "email": None, "full_name": "Ann", "phone": None,
        "external_user_id": None, "is_guest": False, "created_at": WHEN}}),
     [("user_created", {"user": {"id": 9, "login": "ann", "email": None, "full_name": "Ann",
                                 "phone": None, "external_user_id": None, "is_guest": False,
                                 "created_at": "2026-01-01T12:00:00+00:00"}})]),
    (event("user_deleted", sender_id=9), [("user_deleted", {"user_id": 9})]),
    (event("messages_read", dialog_id="d1"), []),
    (event("contacts_changed"), []),
    (event("password_reset_requested", payload={"email": "a@b.c", "token": "t"}), []),
])
def test_bodies(source, expected):
    bodies = bodies_for(source)
    assert [(t, b["data"]) for t, _, b in bodies] == expected
    for event_type, body_id, body in bodies:
        assert body == {"id": body_id, "type": event_type, "app_id": 3,
                        "created_at": 1767268800, "data": body["data"]}
        assert event_type in EVENT_TYPES
        json.loads(dump_body(body))
    assert len({body_id for _, body_id, _ in bodies}) == len(bodies)
    if bodies:
        assert bodies[0][1] == str(ID)


def test_signature_verifies_with_the_docs_snippet_and_not_when_tampered():
    body = dump_body({"id": "x", "type": "user_deleted"}).encode()
    now = int(time.time())
    header = signature_header(["whsec_a", "whsec_b"], now, body)
    assert header.startswith(f"t={now},v1=") and header.count("v1=") == 2
    for secret in ("whsec_a", "whsec_b"):
        assert verify_signature(secret, header, body) and verify(secret, header, body, now)
    assert not verify_signature("whsec_c", header, body)
    assert not verify_signature("whsec_a", header, body + b" ")
    assert not verify_signature("whsec_a", header.replace(f"t={now}", f"t={now + 1}"), body)
    assert not verify("whsec_a", header, body, now + 301)  # too old: a replay
    assert sign("k", 1, b"{}") == hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest()


@pytest.mark.parametrize("address, refused", [
    ("93.184.216.34", False), ("2606:2800:220:1::1", False), ("8.8.8.8", False),
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("0.0.0.0", True), ("::", True),
    ("10.0.0.1", True), ("172.16.0.1", True), ("192.168.1.1", True), ("100.64.1.1", True),
    ("169.254.169.254", True), ("fe80::1", True), ("fe80::1%eth0", True), ("fc00::1", True),
    ("fd12:3456::1", True), ("::ffff:127.0.0.1", True), ("::ffff:10.0.0.1", True),
    ("::ffff:93.184.216.34", False), ("2002:7f00:1::", True), ("2002:5db8:d822::", False),
    ("224.0.0.251", True), ("ff02::1", True), ("198.18.0.1", True), ("192.0.2.1", True),
    ("255.255.255.255", True), ("not-an-ip", True),
])
def test_address_rules(address, refused):
    assert refused_address(address) is refused


def test_allowed_networks_open_exactly_what_they_name():
    allowed = parse_networks(["127.0.0.1/32", "10.1.2.0/24"])
    assert not refused_address("127.0.0.1", allowed) and not refused_address("10.1.2.200", allowed)
    assert refused_address("127.0.0.2", allowed) and refused_address("10.1.3.1", allowed)
    assert not refused_address("::ffff:127.0.0.1", allowed)  # the same address, mapped


def test_a_webhook_wants_what_it_names_while_enabled():
    hook = Webhook(_id=1, app_id=1, url="https://x", events=["message_created"], secret="s",
                   created_at=WHEN, updated_at=WHEN)
    assert hook.wants("message_created") and not hook.wants("user_created")
    assert not hook.model_copy(update={"enabled": False}).wants("message_created")
    assert hook.model_copy(update={"events": ["*"]}).wants("user_created")
    assert "whsec_never_logged" not in repr(hook.model_copy(update={"secret": "whsec_never_logged"}))


async def test_signup_and_guests_publish_user_created(services):
    await services.users.signup(1, UserDraft(login="webhookann", password="password123",
                                             email="Ann@Example.com", full_name="Ann"))
    await services.users.create_guest(1, "Guesty")
    events = await services.outbox.find({"kind": "user_created"})
    users = [e["payload"]["user"] for e in events]
    assert [(u["login"], u["email"], u["full_name"], u["is_guest"]) for u in users] == [
        ("webhookann", "ann@example.com", "Ann", False), (None, None, "Guesty", True)]
    assert all("password_hash" not in u for u in users)
    assert [e["sender_id"] for e in events] == [u["_id"] for u in users]
