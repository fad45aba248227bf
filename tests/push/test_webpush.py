"""WebPush end to end with real encryption: the fake push service checks VAPID and decrypts."""
from __future__ import annotations

from datetime import timedelta


async def test_chat_alert_is_encrypted_signed_and_decrypted(env, webpush):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    sub, _ = await env.subscribe_web(bob, "bob-laptop")
    dialog = await env.dialog(alice, [alice, bob])
    message_id = await env.message(dialog, alice, "hello Bob, lunch at noon?")

    assert await env.drain() == 1
    assert webpush.rejected_auth == []
    [got] = webpush.received
    assert got["name"] == "bob-laptop"
    assert got["payload"] == {"data": {
        "title": "Alice", "message": "hello Bob, lunch at noon?", "badge": 1,
        "dialog_id": dialog, "message_id": message_id, "sender_id": alice, "dialog_type": 3}}
    assert got["urgency"] == "high" and int(got["ttl"]) == 3600  # max age in these settings
    assert await env.jobs.count() == 0  # delivered jobs leave the queue


async def test_expired_subscription_410_deletes_exactly_that_subscription(env, webpush, services):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    gone, _ = await env.subscribe_web(bob, "old-browser")
    kept, _ = await env.subscribe_web(bob, "new-browser")
    webpush.browsers.pop("old-browser")  # the fake answers 410 Gone for it
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "hi")

    await env.drain()
    remaining = [s.id for s in await services.subscriptions.list(_req(bob))]
    assert remaining == [kept.id]
    assert [r["name"] for r in webpush.received] == ["new-browser"]
    assert await env.jobs.count() == 0


async def test_429_with_retry_after_is_honoured_then_delivered(env, webpush, services, clock):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "hi")
    webpush.script = [(429, {"headers": {"Retry-After": "30"}})]

    await env.drain()
    [job] = await env.jobs.find({})
    assert job["state"] == "pending" and job["lease"] is None and job["attempts"] == 1
    assert job["due_at"] - clock.now() == timedelta(seconds=30)
    assert "429" in job["last_error"]
    clock.advance(29)
    assert await env.worker().run_once() == 0  # not yet
    clock.advance(1)
    assert await env.worker().run_once() == 1
    assert len(webpush.received) == 1 and await env.jobs.count() == 0


async def test_server_errors_back_off_and_give_up_into_dead_letters(env, webpush, clock):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "hi")
    webpush.default = (503, {})

    await env.drain()
    delays = []
    for _ in range(200):
        [job] = await env.jobs.find({})
        if job["state"] == "dead":
            break
        delay = (job["due_at"] - clock.now()).total_seconds()
        delays.append(delay)
        clock.advance(delay)
        await env.worker().run_once()
    [job] = await env.jobs.find({})
    assert job["state"] == "dead" and job["lease"] is None
    assert job["last_error"].startswith("gave up after") and "503" in job["last_error"]
    # exponential with jitter (base 1 s: step 1, 2, 4, ... each in [step/2, step]), capped at 60 s
    assert all(0.5 * 2 ** i <= d <= 2 ** i for i, d in enumerate(delays[:6]))
    assert max(delays) <= 60 and all(d >= 30 for d in delays[7:])  # capped: [cap/2, cap]
    assert 3600 - 60 <= sum(delays) <= 3600  # gave up at the max age, not before
    assert webpush.received == []


async def test_payload_too_large_is_dead_lettered_at_once(env, webpush):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "hi")
    webpush.script = [(413, {})]

    await env.drain()
    [job] = await env.jobs.find({})
    assert job["state"] == "dead" and "payload too large" in job["last_error"]
    assert webpush.requests == 1


async def test_vapid_rejection_is_permanent_and_logged(env, webpush, caplog):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "secret text")
    webpush.vapid_public_key = "somebody-else"  # the service no longer accepts our key

    await env.drain()
    [job] = await env.jobs.find({})
    assert job["state"] == "dead" and "VAPID" in job["last_error"]
    assert any("VAPID authorization rejected" in r.getMessage() for r in caplog.records
               if r.levelname == "ERROR")
    assert not any("secret text" in r.getMessage() for r in caplog.records)


def _req(user_id: int):
    from models.requester import Requester

    return Requester(app_id=1, user_id=user_id)
