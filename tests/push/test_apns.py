"""APNs through aioapns against a local HTTP/2 + TLS server (self-signed certificate trusted via
settings): request path, provider JWT, headers, payload, and each error class."""
from __future__ import annotations

import base64
import json

from models.requester import Requester
from tests.push.conftest import TOPIC

TOKEN_B = "a1" * 32
TOKEN_C = "c3" * 32


async def _chat(env, text="see you at 5", name="Team", group=False):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    occupants = [alice, bob]
    dialog = await (env.dialog(alice, occupants, type=2, name=name) if group
                    else env.dialog(alice, occupants))
    return alice, bob, dialog


async def test_alert_request_path_auth_headers_and_payload(env, apns):
    alice, bob, dialog = await _chat(env, group=True)
    await env.subscribe_apns(bob, TOKEN_B, "bob-iphone")
    message_id = await env.message(dialog, alice, "see you at 5")

    assert await env.drain() == 1
    assert apns.rejected_auth == []
    [got] = apns.received
    assert got["path"] == f"/3/device/{TOKEN_B}"
    headers = got["headers"]
    assert headers["apns-topic"] == TOPIC and headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == "10" and headers[":method"] == "POST"
    assert got["payload"] == {
        "aps": {"alert": {"title": "Team", "body": "Alice: see you at 5"}, "badge": 1,
                "sound": "default", "thread-id": dialog},
        "dialog_id": dialog, "message_id": message_id, "sender_id": alice, "dialog_type": 2}


async def test_410_unregistered_and_bad_device_token_prune_only_that_subscription(env, apns, services):
    alice, bob, dialog = await _chat(env)
    first = await env.subscribe_apns(bob, TOKEN_B, "old-phone")
    second = await env.subscribe_apns(bob, TOKEN_C, "ipad")
    gcm = await env.subscribe_gcm(bob, "fcm-token-1", "android")
    apns.script = [(410, {"reason": "Unregistered"}), (400, {"reason": "BadDeviceToken"})]
    await env.message(dialog, alice, "hi")
    await env.drain()
    left = [s.id for s in await services.subscriptions.list(Requester(app_id=1, user_id=bob))]
    assert first.id not in left and second.id not in left and gcm.id in left
    assert await env.jobs.count() == 0


async def test_throttling_and_server_errors_are_retried(env, apns, clock):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_apns(bob, TOKEN_B, "phone")
    apns.script = [(429, {"reason": "TooManyRequests"}), (503, {"reason": "ServiceUnavailable"})]
    await env.message(dialog, alice, "hi")
    await env.drain()
    [job] = await env.jobs.find({})
    assert job["state"] == "pending" and "429 TooManyRequests" in job["last_error"]
    clock.advance(60)
    await env.worker().run_once()
    [job] = await env.jobs.find({})
    assert "503 ServiceUnavailable" in job["last_error"] and job["attempts"] == 2
    clock.advance(60)
    await env.worker().run_once()
    assert len(apns.received) == 1 and await env.jobs.count() == 0


async def test_payload_too_large_and_bad_topic_are_dead_lettered(env, apns):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_apns(bob, TOKEN_B, "phone")
    await env.subscribe_apns(bob, TOKEN_C, "pad")
    apns.script = [(413, {"reason": "PayloadTooLarge"}), (400, {"reason": "BadTopic"})]
    await env.message(dialog, alice, "hi")
    await env.drain()
    errors = sorted(j["last_error"] for j in await env.jobs.find({"state": "dead"}))
    assert errors == ["APNs: 400 BadTopic", "APNs: 413 PayloadTooLarge"]
    assert apns.requests == 2


async def test_invalid_provider_token_is_permanent(env, apns, caplog):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_apns(bob, TOKEN_B, "phone")
    apns.team_id = "SOMEONEELSE"  # the server no longer accepts our JWT
    await env.message(dialog, alice, "hi")
    await env.drain()
    [job] = await env.jobs.find({})
    assert job["state"] == "dead" and "InvalidProviderToken" in job["last_error"]
    assert any("check the APNs key" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


async def test_connection_refused_is_temporary(env, apns):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_apns(bob, TOKEN_B, "phone")
    await apns.close()  # nobody listens any more
    await env.message(dialog, alice, "hi")
    await env.drain()
    [job] = await env.jobs.find({})
    assert job["state"] == "pending" and "connection error" in job["last_error"]


async def test_voip_event_uses_voip_topic_and_push_type(api, apns, env):
    caller = await api.new_user("caller")
    callee = await api.new_user("callee")
    await env.subscribe_apns(callee["id"], TOKEN_C, "callee-phone", channel="apns_voip")
    payload = {"aps": {"alert": "Incoming call"}, "call_id": "c-1"}
    message = "payload=" + base64.b64encode(json.dumps(payload).encode()).decode()
    status, body = await api.call("POST", "/events.json", caller["token"], json={"event": {
        "notification_type": "push", "environment": "development", "push_type": "apns_voip",
        "user": {"ids": str(callee["id"])}, "message": message}})
    assert status == 201, body
    await env.drain()
    [got] = apns.received
    assert got["headers"]["apns-topic"] == TOPIC + ".voip"
    assert got["headers"]["apns-push-type"] == "voip"
    assert got["payload"] == payload
