"""The event feed on real stores: what is written (one shared entry per change of a big dialog,
one per member of a small one; one write per send batch; before the outbox hears of it), who
reads it (members from their join to their removal, broadcast readers), catching up in a big
group from the feed alone, and retention (expired entries and tombstones go)."""
from __future__ import annotations

import pytest

from config.settings import FeedSettings
from models.events import Event, RecordingPublisher
from models.messages import make_draft
from models.requester import Requester
from models.services.access import BROADCAST, GROUP
from models.services.container import build_services
from tests.services.commands import dialog_change, history, new_dialog


@pytest.fixture
async def big(settings, database, clock):
    """Services whose dialogs of more than 3 members are "big" (shared feed entries)."""
    built = build_services(settings.model_copy(update={"feed": FeedSettings(fanout_max_members=3)}),
                           database, clock=clock)
    await built.start()
    return built


async def people(services, *names) -> dict[str, Requester]:
    out = {}
    for name in names:
        user = await services.users.create_guest(1, name)
        out[name] = Requester(app_id=1, user_id=user.id)
    return out


async def feed_docs(services) -> list[dict]:
    return await services.database.db["feed"].find({}).sort("_id", 1).to_list(length=None)


async def read_all(services, who: Requester, since: str) -> tuple[list, str]:
    items = []
    while True:
        page = await services.feed.page(who, since, 2)
        items.extend(page.items)
        since = str(page.next)
        if not page.more:
            return items, since


async def start(services, who) -> str:
    return str((await services.feed.page(who, None, None)).next)


async def send(services, who, dialog_id, body):
    return await services.messages.send(who, make_draft(dialog_id=dialog_id, body=body))


async def test_a_big_group_writes_one_entry_per_change_read_by_every_member(big):
    u = await people(big, "ann", "ben", "cat", "dan", "eve", "fay")
    view, _ = await big.dialogs.create(u["ann"], new_dialog(
        {"type": GROUP, "name": "g", "occupants_ids": [u[n].user_id for n in ("ben", "cat", "dan")]}))
    did = view.dialog.id
    since = {n: await start(big, u[n]) for n in u}
    before = len(await feed_docs(big))
    message = await send(big, u["ben"], did, "hello")
    docs = await feed_docs(big)
    assert len(docs) == before + 1 and docs[-1]["key"] == f"d:{did}"
    for name in ("ann", "ben", "cat", "dan"):
        items, _ = await read_all(big, u[name], since[name])
        assert [(i.type, i.message_id) for i in items] == [("message_created", message.id)], name
    for name in ("eve", "fay"):
        assert (await read_all(big, u[name], since[name]))[0] == []

    # fay joins: she reads from her join; cat is removed: nothing after it
    await big.dialogs.update(u["ann"], did, dialog_change({"push_all": {"occupants_ids": [u["fay"].user_id]}}))
    await big.dialogs.update(u["ann"], did, dialog_change({"pull_all": {"occupants_ids": [u["cat"].user_id]}}))
    later = await send(big, u["ann"], did, "later")
    fay_items, _ = await read_all(big, u["fay"], since["fay"])
    assert [i.type for i in fay_items] == ["occupants_added", "occupants_removed", "message_created"]
    cat_items, _ = await read_all(big, u["cat"], since["cat"])
    assert [i.type for i in cat_items] == ["message_created", "occupants_added", "occupants_removed"]
    assert later.id not in [i.message_id for i in cat_items]


async def test_an_offline_member_of_a_big_group_catches_up(big):
    u = await people(big, "ann", "ben", "cat", "dan", "eve")
    view, _ = await big.dialogs.create(u["ann"], new_dialog(
        {"type": GROUP, "name": "old name",
         "occupants_ids": [u[n].user_id for n in ("ben", "cat", "dan", "eve")]}))
    did = view.dialog.id
    one = await send(big, u["ben"], did, "one")
    since = await start(big, u["eve"])  # eve goes offline
    two = await send(big, u["cat"], did, "two")
    await big.messages.update(u["cat"], history_edit(two.id, "two, edited"))
    await big.reactions.update(u["dan"], one.id, "🎉", None)
    await big.messages.delete(u["ann"], [one.id], force=True)  # the owner, for everyone
    await big.dialogs.update(u["ann"], did, dialog_change({"name": "new name"}))
    items, _ = await read_all(big, u["eve"], since)
    assert [(i.type, i.message_id) for i in items] == [
        ("message_created", two.id), ("message_updated", two.id), ("reactions_changed", one.id),
        ("message_deleted", one.id), ("dialog_updated", None)]
    assert items[0].data["message"]["message"] == "two"
    assert items[1].data["message"] == "two, edited"
    assert items[3].actor_id == u["ann"].user_id
    assert items[4].data == {"fields": ["name"], "values": {"name": "new name"}}
    # what eve's client now shows, from the feed alone, matches the store
    page = await big.messages.history(u["eve"], history({"chat_dialog_id": did, "mark_as_read": 0}))
    assert [(m.id, m.body) for m in page.items] == [(two.id, "two, edited")]
    # and the tombstone of "one" is there for who asks
    merged = await big.feed.with_tombstones(u["eve"], history({"chat_dialog_id": did}), page.items,
                                            page.limit)
    assert [m.id for m in merged] == [one.id, two.id]
    assert not hasattr(merged[0], "body")


def history_edit(message_id, body):
    from tests.services.commands import message_update
    return message_update([message_id], {"message": body})


async def test_small_dialogs_fan_out_and_a_send_batch_is_one_feed_write(services):
    u = await people(services, "ann", "ben")
    dialog = await services.dialogs.find_or_create_private(u["ann"], u["ben"].user_id)
    store = type(services.feed._store)  # the embedded store's, or MongoDB's
    calls = {"insert": 0, "cursors": 0}
    original_insert, original_take = store.insert_many, store.take_cursors

    async def insert_many(self, entries):
        calls["insert"] += 1
        return await original_insert(self, entries)

    async def take_cursors(self, count):
        calls["cursors"] += 1
        return await original_take(self, count)

    before = len(await feed_docs(services))
    try:
        store.insert_many, store.take_cursors = insert_many, take_cursors
        items = [(u["ann"], make_draft(dialog_id=dialog.id, body=f"m{i}")) for i in range(10)]
        results = await services.messages.send_batch(items)
    finally:
        store.insert_many, store.take_cursors = original_insert, original_take
    assert all(not isinstance(r, BaseException) for r in results)
    assert calls == {"insert": 1, "cursors": 1}
    docs = (await feed_docs(services))[before:]
    assert len(docs) == 20  # one per member and message: a 1:1 dialog is small
    assert {d["key"] for d in docs} == {f"u:1:{u['ann'].user_id}", f"u:1:{u['ben'].user_id}"}


async def test_the_feed_is_written_before_the_outbox_hears_of_it(settings, database, clock):
    seen: list[int] = []

    class Checking(RecordingPublisher):
        async def publish_many(self, events: list[Event]) -> None:
            seen.append(await database.db["feed"].count_documents({}))
            await super().publish_many(events)

    publisher = Checking()
    built = build_services(settings, database, clock=clock, publisher=publisher)
    await built.start()
    u = await people(built, "ann", "ben")
    publisher.events.clear()  # the sign-ups' `user_created` (webhooks) make no feed entries
    seen.clear()
    dialog = await built.dialogs.find_or_create_private(u["ann"], u["ben"].user_id)
    await send(built, u["ann"], dialog.id, "hi")
    assert publisher.kinds() == ["dialog_created", "message_created"]
    assert seen == [2, 4]  # each event's entries (one per member) were stored before it went on


async def test_broadcast_readers_read_its_entries_until_they_leave(services):
    u = await people(services, "ann", "ben")
    view, _ = await services.dialogs.create(u["ann"], new_dialog(
        {"type": BROADCAST, "name": "news"}))
    did = view.dialog.id
    since = await start(services, u["ben"])  # a reader, not an occupant
    news = await send(services, u["ann"], did, "news")
    items, since = await read_all(services, u["ben"], since)
    assert [(i.type, i.message_id) for i in items] == [("message_created", news.id)]
    await services.dialogs.delete(u["ben"], [did], force=False)  # "delete for me": left
    items, since = await read_all(services, u["ben"], since)
    assert [i.type for i in items] == ["settings_changed"]
    await send(services, u["ann"], did, "more news")
    assert (await read_all(services, u["ben"], since))[0] == []


async def test_entries_and_tombstones_expire_with_the_retention(services, clock):
    u = await people(services, "ann", "ben")
    dialog = await services.dialogs.find_or_create_private(u["ann"], u["ben"].user_id)
    message = await send(services, u["ann"], dialog.id, "soon gone")
    await services.messages.delete(u["ann"], [message.id], force=True)
    db = services.database.db
    assert await db["feed"].count_documents({}) > 0
    assert await db["message_tombstones"].count_documents({}) == 1
    clock.advance(29 * 86400)
    assert await services.feed.prune() == 0
    clock.advance(2 * 86400)
    assert await services.feed.prune() > 0
    assert await db["feed"].count_documents({}) == 0
    assert await db["message_tombstones"].count_documents({}) == 0
