"""Offline users: a message sent over XMPP becomes a `message_created` event, and the push fan-out,
reading the bridge-fed presence, queues a job only for the offline recipient."""
from __future__ import annotations

import asyncio

from models.clock import Clock
from models.services.push import PushService
from models.storage.dialogs import DialogStore
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from models.storage.push_jobs import PushJobStore
from models.storage.subscriptions import SubscriptionStore
from models.storage.users import UserStore
from tests.bridge.conftest import APP_ID, is_message, new_id
from tests.bridge.test_groupchat import room


def send_stored(client, to: str, kind: str, mid: str, body: str) -> None:
    """A message with save_to_history=1, as the SDK sends it."""
    client.send(f'<message to="{to}" type="{kind}" id="{mid}"><body>{body}</body>'
                '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')


async def tap(server):
    """Events as they are published (the embedded outbox forgets an event once the relay, its only
    consumer in these tests, handled it)."""
    return await server.call_sync(lambda: server.services.outbox.tap())


async def jobs_for_message(server, events_tap, message_id: str, subscribers: list[int]) -> dict[int, int]:
    async def run(services):
        db = services.database.db
        for n, uid in enumerate(subscribers):
            await db["push_subscriptions"].insert_one({
                "_id": 10_000_000 + uid * 10 + n, "app_id": APP_ID, "user_id": uid, "channel": "gcm",
                "environment": "production", "token": f"token-{uid}", "udid": f"dev-{uid}"})
        push = PushService(PushJobStore(db), SubscriptionStore(db), DialogStore(db), MemberStore(db),
                           MessageStore(db), UserStore(db), services.presence, Clock(),
                           services.settings.push, channels={"gcm"})
        events: list[dict] = []
        try:
            while not events:
                event = await asyncio.wait_for(events_tap.queue.get(), 5)
                if event["kind"] == "message_created" and event["payload"]["message"]["_id"] == message_id:
                    events.append(event)
        finally:
            services.outbox.untap(events_tap)
        await push.handle_event(events[0])
        jobs = await db["push_jobs"].find({"notification.data.message_id": message_id}).to_list(None)
        out: dict[int, int] = {}
        for job in jobs:
            out[job["user_id"]] = out.get(job["user_id"], 0) + 1
        return out

    return await server.call(run)


async def test_offline_group_member_gets_a_push_job_online_one_does_not(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"], c["id"]])
    alice, carol = await xmpp(a), await xmpp(c)  # bob is offline
    events = await tap(server)
    mid = new_id()
    send_stored(alice, room(dialog["_id"]), "groupchat", mid, "ping")
    await carol.wait_for(lambda s: is_message(s, id=mid))
    assert await jobs_for_message(server, events, mid, [b["id"], c["id"]]) == {b["id"]: 1}


async def test_offline_private_recipient_gets_a_push_job(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice = await xmpp(a)
    events = await tap(server)
    mid = new_id()
    send_stored(alice, b["jid"], "chat", mid, "are you there?")
    assert await jobs_for_message(server, events, mid, [b["id"]]) == {b["id"]: 1}


async def test_offline_user_of_the_app_gets_a_broadcast_push_job(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [], dtype=1)  # bob and carol are not occupants
    alice, carol = await xmpp(a), await xmpp(c)  # bob is offline
    events = await tap(server)
    mid = new_id()
    send_stored(alice, room(dialog["_id"]), "groupchat", mid, "news")
    await carol.wait_for(lambda s: is_message(s, id=mid))
    jobs = await jobs_for_message(server, events, mid, [a["id"], b["id"], c["id"]])
    assert jobs.get(b["id"]) == 1 and c["id"] not in jobs and a["id"] not in jobs
    # every user of the (shared) test app reads it: gone, so other tests' unread totals hold
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog['_id']}.json", a["token"],
                                params={"force": 1})
    assert status == 200
