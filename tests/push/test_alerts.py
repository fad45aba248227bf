"""Chat alerts: who gets one, with what, from `message_created` outbox events."""
from __future__ import annotations

from models.events import Event


async def _jobs_by_user(env) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for job in await env.jobs.find({}):
        out.setdefault(job["user_id"], []).append(job)
    return out


async def test_sender_muted_and_online_members_get_nothing(env, services):
    alice, bob, carol, dave = [await env.user(n) for n in ("Alice", "Bob", "Carol", "Dave")]
    for uid, name in ((alice, "a"), (bob, "b"), (carol, "c"), (dave, "d")):
        await env.subscribe_web(uid, name)
    dialog = await env.dialog(alice, [alice, bob, carol, dave], type=2, name="Crew")
    await env.members.update(dialog, carol, {"notifications": False})  # carol muted the dialog
    services.presence.connected(1, dave, "dave-ws")  # dave is online
    await env.message(dialog, alice, "hello crew")
    await env.fanout.run_once()
    assert set(await _jobs_by_user(env)) == {bob}

    # dave's app goes to the background: he is offline for push purposes again
    services.presence.set_active(1, dave, "dave-ws", False)
    await env.message(dialog, alice, "second")
    await env.fanout.run_once()
    assert set(await _jobs_by_user(env)) == {bob, dave}


async def test_silent_messages_make_no_push(env):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "quiet", silent=True)
    assert await env.fanout.run_once() == 1
    assert await env.jobs.count() == 0


async def test_one_job_per_device_voip_excluded_and_badge_is_total_unread(env):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "laptop")
    await env.subscribe_gcm(bob, "fcm-1", "pixel")
    await env.subscribe_apns(bob, "ab" * 32, "iphone")
    await env.subscribe_apns(bob, "cd" * 32, "iphone", channel="apns_voip")
    other = await env.dialog(alice, [alice, bob], type=2, name="Other")
    await env.message(other, alice, "unread 1", publish=False)
    await env.message(other, alice, "unread 2", publish=False)
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "hi")
    await env.fanout.run_once()
    jobs = (await _jobs_by_user(env))[bob]
    assert sorted(j["channel"] for j in jobs) == ["apns", "gcm", "web"]
    assert {j["notification"]["badge"] for j in jobs} == {3}

    await env.members.advance_read(other, bob, 2)  # bob read the other dialog
    await env.message(dialog, alice, "again")
    await env.fanout.run_once()
    latest = [j for j in await env.jobs.find({}) if j["notification"]["body"] == "again"]
    assert {j["notification"]["badge"] for j in latest} == {2}


async def test_e2e_dialog_alert_has_no_body_text(env):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob], type=2, name="Vault", extensions={"e2ee": "1"})
    await env.message(dialog, alice, "the code is 1234")
    await env.fanout.run_once()
    [job] = await env.jobs.find({})
    notification = job["notification"]
    assert notification["title"] == "Vault" and notification["body"] is None
    assert notification["mutable_content"] is True
    assert "1234" not in str(job)


async def test_long_bodies_are_cut_and_group_titles_use_the_dialog_name(env, services):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob], type=2, name="Book club")
    await env.message(dialog, alice, "word " * 200)
    await env.fanout.run_once()
    [job] = await env.jobs.find({})
    body = job["notification"]["body"]
    assert job["notification"]["title"] == "Book club"
    assert body.startswith("Alice: word word") and body.endswith("…")
    assert len(body) <= services.settings.push.body_max_chars


async def test_replayed_event_queues_nothing_twice(env, services):
    """The outbox may hand an event out again (a crash before mark_done): job ids are keys."""
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "once")
    [event] = await services.outbox.pending("push")
    assert await services.push.handle_event(event) == 1
    assert await services.push.handle_event(event) == 0
    assert await env.jobs.count() == 1


async def test_public_dialogs_and_other_apps_get_no_alerts(env, services):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    public = await env.dialog(alice, [alice, bob], type=4, name="Lobby")
    await env.message(public, alice, "hello lobby")
    # an event naming a user of another application reaches nobody there
    stranger = await env.user("Stranger", app_id=2)
    await env.subscribe_gcm(stranger, "tok", "s", app_id=2)
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "hi", recipients=[bob, stranger])
    await env.fanout.run_once()
    assert [j["user_id"] for j in await env.jobs.find({})] == [bob]


async def test_deleted_users_lose_subscriptions_and_queued_jobs(env, services):
    alice, bob = await env.user("Alice"), await env.user("Bob")
    await env.subscribe_web(bob, "b")
    dialog = await env.dialog(alice, [alice, bob])
    await env.message(dialog, alice, "hi")
    await env.fanout.run_once()
    assert await env.jobs.count() == 1
    await services.outbox.publish(Event(kind="user_deleted", app_id=1, sender_id=bob))
    await env.fanout.run_once()
    assert await env.jobs.count() == 0
    assert await services.database.db["push_subscriptions"].count_documents({"user_id": bob}) == 0


async def test_through_the_real_rest_api_and_message_service(api, env, webpush):
    alice = await api.new_user("alice", full_name="Alice A")
    bob = await api.new_user("bob")
    _, browser = webpush.new_browser("bob")
    status, _ = await api.call("POST", "/subscriptions.json", bob["token"], json={
        "notification_channel": "web", "device": {"platform": "web", "udid": "bob-browser"},
        "push_token": {"environment": "production", "web_endpoint": f"http://127.0.0.1:{webpush.port}/push/bob",
                       "web_auth": browser.auth_b64, "web_p256dh": browser.p256dh}})
    assert status == 201
    status, dialog = await api.call("POST", "/chat/Dialog.json", alice["token"],
                                    json={"type": 3, "occupants_ids": [bob["id"]]})
    assert status in (200, 201), dialog
    status, message = await api.call("POST", "/chat/Message.json", alice["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "via REST", "send_to_chat": 1})
    assert status in (200, 201), message
    await env.drain()
    [got] = webpush.received
    assert got["payload"]["data"]["message"] == "via REST"
    assert got["payload"]["data"]["title"] == "Alice A"
    assert got["payload"]["data"]["message_id"] == message["_id"]


async def test_broadcast_alerts_every_offline_subscribed_user_of_the_app(env, services, monkeypatch):
    """The event names the occupants only; the alert pages through the app's subscriptions."""
    monkeypatch.setattr("models.services.push.BROADCAST_PAGE", 2)  # several pages
    alice, bob, carol, dave, erin, frank = [
        await env.user(n) for n in ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank")]
    for uid, name in ((alice, "a"), (bob, "b"), (carol, "c"), (dave, "d"), (erin, "e")):
        await env.subscribe_web(uid, name)
    await env.subscribe_web(bob, "b2", udid="bob-phone")  # two devices: two jobs
    stranger = await env.user("Stranger", app_id=2)
    await env.subscribe_gcm(stranger, "tok", "s", app_id=2)
    news = await env.dialog(alice, [alice], type=1, name="News")
    await env.members.ensure(1, news, carol, {"notifications": False})  # carol muted it
    await env.members.ensure(1, news, erin, {"hidden": True, "left": True})  # erin deleted it
    services.presence.connected(1, dave, "dave-ws")  # dave is online
    message_id = await env.message(news, alice, "big news")
    [event] = await services.outbox.pending("push")
    assert event["recipient_ids"] == []  # no occupant but the sender
    await env.fanout.run_once()
    jobs = await _jobs_by_user(env)
    assert set(jobs) == {bob} and len(jobs[bob]) == 2  # frank has no subscription
    notification = jobs[bob][0]["notification"]
    assert notification["title"] == "News" and notification["body"] == "Alice: big news"
    assert notification["badge"] == 1  # the broadcast counts for a reader without membership
    assert notification["data"]["message_id"] == message_id and notification["data"]["dialog_type"] == 1
    assert await services.push.handle_event(event) == 0  # a replayed event queues nothing twice


async def test_a_batch_of_events_reads_the_subscriptions_once(env, services, monkeypatch):
    """The fan-out reads the subscriptions of a batch's offline recipients in one query
    (`PushService.prefetch`), and queues what one query per event would have queued: only those
    with a subscription get a job, muted and online members none, each in its own dialog."""
    alice, bob, carol, dave = [await env.user(n) for n in ("Alice", "Bob", "Carol", "Dave")]
    await env.subscribe_web(bob, "b")
    await env.subscribe_web(carol, "c")
    group = await env.dialog(alice, [alice, bob, carol, dave], type=2, name="Crew")
    private = await env.dialog(alice, [alice, bob])
    await env.members.update(group, carol, {"notifications": False})  # carol muted the group
    queries: list[list[int]] = []
    for_users = services.push._subs.for_users

    async def counted(app_id, user_ids, *args, **kwargs):
        queries.append(sorted(user_ids))
        return await for_users(app_id, user_ids, *args, **kwargs)

    monkeypatch.setattr(services.push._subs, "for_users", counted)
    for text in ("one", "two", "three"):
        await env.message(group, alice, text)
    await env.message(private, alice, "private")
    await env.message(group, dave, "from dave")
    assert await env.fanout.run_once() == 5
    assert queries == [[alice, bob, carol, dave]]  # one read, for every recipient of the batch
    jobs = await _jobs_by_user(env)
    assert set(jobs) == {bob}  # alice (dave's message) has no subscription; carol muted the group
    assert sorted(j["notification"]["body"] for j in jobs[bob]) == \
        ["Alice: one", "Alice: three", "Alice: two", "Dave: from dave", "private"]
