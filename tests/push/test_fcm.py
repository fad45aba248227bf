"""FCM v1 against a local token endpoint and send endpoint: path, OAuth bearer from the service
account's signed assertion, message body, and each error class."""
from __future__ import annotations

from models.requester import Requester
from tests.push.conftest import PROJECT


async def _chat(env):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    dialog = await env.dialog(alice, [alice, bob])
    return alice, bob, dialog


async def test_data_message_path_bearer_and_body(env, fcm):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_gcm(bob, "reg-token-bob", "bob-pixel")
    message_id = await env.message(dialog, alice, "ping")

    assert await env.drain() == 1
    assert fcm.tokens_issued == ["access-1"] and fcm.rejected_auth == []
    [got] = fcm.received
    assert got["path"] == f"/v1/projects/{PROJECT}/messages:send"
    assert got["body"] == {"validate_only": False, "message": {
        "token": "reg-token-bob",
        "data": {"message": "ping", "title": "Alice", "badge": "1", "dialog_id": dialog,
                 "message_id": message_id, "sender_id": str(alice), "dialog_type": "3"},
        "android": {"priority": "high"}}}


async def test_access_token_is_reused_then_refreshed_after_401(env, fcm, clock):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_gcm(bob, "reg-token-bob", "bob-pixel")
    await env.message(dialog, alice, "one")
    await env.message(dialog, alice, "two")
    await env.drain()
    assert fcm.tokens_issued == ["access-1"] and len(fcm.received) == 2

    fcm.tokens_issued.append("access-rotated")  # the server forgets the token we hold
    await env.message(dialog, alice, "three")
    await env.drain()
    [job] = await env.jobs.find({})
    assert job["state"] == "pending" and "401" in job["last_error"]
    clock.advance(60)
    await env.worker().run_once()
    assert len(fcm.received) == 3 and fcm.tokens_issued[-1] == "access-3"
    assert await env.jobs.count() == 0


async def test_unregistered_and_invalid_registration_prune_the_subscription(env, fcm, services):
    alice, bob, dialog = await _chat(env)
    first = await env.subscribe_gcm(bob, "stale-token", "phone-1")
    second = await env.subscribe_gcm(bob, "garbled-token", "phone-2")
    third = await env.subscribe_gcm(bob, "good-token", "phone-3")
    fcm.script = [(404, {"status": "NOT_FOUND", "errorCode": "UNREGISTERED"}),
                  (400, {"status": "INVALID_ARGUMENT", "errorCode": "INVALID_ARGUMENT",
                         "message": "The registration token is not a valid FCM registration token"})]
    await env.message(dialog, alice, "hi")
    await env.drain()
    left = [s.id for s in await services.subscriptions.list(Requester(app_id=1, user_id=bob))]
    assert left == [third.id] and first.id != second.id
    assert len(fcm.received) == 1 and await env.jobs.count() == 0


async def test_quota_and_unavailable_retry_with_retry_after(env, fcm, clock):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_gcm(bob, "reg", "phone")
    fcm.script = [(429, {"status": "RESOURCE_EXHAUSTED", "errorCode": "QUOTA_EXCEEDED",
                         "headers": {"Retry-After": "45"}}),
                  (503, {"status": "UNAVAILABLE", "errorCode": "UNAVAILABLE"})]
    await env.message(dialog, alice, "hi")
    await env.drain()
    [job] = await env.jobs.find({})
    assert (job["due_at"] - clock.now()).total_seconds() == 45
    assert "QUOTA_EXCEEDED" in job["last_error"]
    clock.advance(45)
    await env.worker().run_once()
    [job] = await env.jobs.find({})
    assert "UNAVAILABLE" in job["last_error"] and job["state"] == "pending"
    clock.advance(60)
    await env.worker().run_once()
    assert len(fcm.received) == 1 and await env.jobs.count() == 0


async def test_bad_request_sender_mismatch_and_refused_service_account_are_permanent(env, fcm, services):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_gcm(bob, "t1", "p1")
    await env.subscribe_gcm(bob, "t2", "p2")
    fcm.script = [(400, {"status": "INVALID_ARGUMENT", "errorCode": "INVALID_ARGUMENT",
                         "message": "Invalid JSON payload received."}),
                  (403, {"status": "PERMISSION_DENIED", "errorCode": "SENDER_ID_MISMATCH"})]
    await env.message(dialog, alice, "hi")
    await env.drain()
    dead = sorted(j["last_error"] for j in await env.jobs.find({"state": "dead"}))
    assert len(dead) == 2 and "INVALID_ARGUMENT" in dead[0] and "SENDER_ID_MISMATCH" in dead[1]
    assert len(await services.subscriptions.list(Requester(app_id=1, user_id=bob))) == 2  # kept


async def test_token_endpoint_refusal_is_permanent_outage_is_temporary(env, fcm):
    alice, bob, dialog = await _chat(env)
    await env.subscribe_gcm(bob, "t1", "p1")
    fcm.token_script = [400]
    await env.message(dialog, alice, "hi")
    await env.drain()
    [job] = await env.jobs.find({})
    assert job["state"] == "dead" and "rejected by the token endpoint" in job["last_error"]

    await env.subscribe_gcm(bob, "t2", "p2")
    await fcm.close()  # token endpoint unreachable
    await env.message(dialog, alice, "again")
    await env.drain()
    pending = await env.jobs.find({"state": "pending"})
    assert len(pending) == 2 and all("unreachable" in j["last_error"] for j in pending)
