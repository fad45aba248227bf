"""DialogService on real stores (mongomock): private de-duplication, memberships, events, per-user
views (unread, cleared history, deleted-for-me), leaving and deleting."""
from __future__ import annotations

import pytest

from models.errors import ForbiddenError, InvalidError, NotFoundError
from models.events import RecordingPublisher
from models.dialogs import Dialog
from models.messages import Message, MessageDraft
from models.requester import Requester
from models.services.access import GROUP, PRIVATE, PUBLIC, PrivateAccessMemo
from models.services.container import Services, build_services
from models.services.dialogs import DialogService
from models.services.memberships import MembershipService
from models.storage.dialogs import DialogStore
from models.storage.ids import new_id
from models.storage.members import MemberStore
from models.storage.messages import MessageStore
from tests.services.commands import dialog_change, dialog_list, new_dialog


@pytest.fixture
def stores(services):
    db = services.database.db
    return DialogStore(db), MemberStore(db), MessageStore(db)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def recorded(services, settings, database, clock, publisher) -> Services:
    """The production services on the same database as `services`, publishing to `publisher`."""
    return build_services(settings, database, clock=clock, publisher=publisher)


@pytest.fixture
def dialogs(recorded) -> DialogService:
    return recorded.dialogs


@pytest.fixture
def memberships(recorded) -> MembershipService:
    return recorded.memberships


@pytest.fixture
async def users(services) -> dict[str, Requester]:
    out = {}
    for name in ("ann", "ben", "cat", "dan"):
        user = await services.users.create_guest(1, name)
        out[name] = Requester(app_id=1, user_id=user.id)
    other = await services.users.create_guest(2, "zed")
    out["zed"] = Requester(app_id=2, user_id=other.id)
    return out


async def send(stores, dialog_id: str, sender: int, text: str, **extra) -> str:
    dialog_store, _, messages = stores
    message_id = new_id()
    seq = await dialog_store.next_seq(1, dialog_id, {
        "last_message": text, "last_message_id": message_id, "last_message_user_id": sender,
        "last_message_date_sent": 1_800_000_000 + len(text)})
    await messages.insert(Message.from_doc({
        "_id": message_id, "app_id": 1, "chat_dialog_id": dialog_id, "seq": seq, "sender_id": sender,
        "message": text, "date_sent": 1_800_000_000, "read_ids": [sender], "delivered_ids": [sender],
        "deleted_for": [], **extra}))
    return message_id


async def test_find_or_create_private_is_one_dialog_per_pair(dialogs, users, stores, publisher):
    ann, ben = users["ann"], users["ben"]
    first = await dialogs.find_or_create_private(ann, ben.user_id)
    again = await dialogs.find_or_create_private(ben, str(ann.user_id))
    assert again.id == first.id and first.type == PRIVATE
    assert sorted(first.occupants_ids) == sorted([ann.user_id, ben.user_id])
    assert first.private_key == f"{min(ann.user_id, ben.user_id)}:{max(ann.user_id, ben.user_id)}"
    assert first.xmpp_room_jid is None
    _, members, _ = stores
    assert {m["user_id"] for m in await members.for_dialog(first.id)} == {ann.user_id, ben.user_id}
    assert publisher.kinds() == ["dialog_created"]
    assert sorted(publisher.events[0].recipient_ids) == sorted([ann.user_id, ben.user_id])
    # a hidden membership comes back for the caller only
    await members.update(first.id, ann.user_id, {"hidden": True})
    await members.update(first.id, ben.user_id, {"hidden": True})
    await dialogs.find_or_create_private(ann, ben.user_id)
    assert (await members.get(first.id, ann.user_id))["hidden"] is False
    assert (await members.get(first.id, ben.user_id))["hidden"] is True


@pytest.fixture
def private_lookups(monkeypatch) -> list[str]:
    """The private keys `DialogStore.find_private` is asked for (the real store still answers)."""
    asked: list[str] = []
    find_private = DialogStore.find_private

    async def counted(self, app_id: int, private_key: str):
        asked.append(private_key)
        return await find_private(self, app_id, private_key)

    monkeypatch.setattr(DialogStore, "find_private", counted)
    return asked


async def test_a_known_pair_is_answered_from_memory(recorded, users, private_lookups,
                                                     settings, database, clock):
    dialogs, ann, ben = recorded.dialogs, users["ann"], users["ben"]
    first = await dialogs.private_dialog_id(ann, ben.user_id)
    assert len(private_lookups) == 1
    assert await dialogs.private_dialog_id(ann, ben.user_id) == first
    assert await dialogs.private_dialog_id(ben, ann.user_id) == first
    assert len(private_lookups) == 1
    # another process knows nothing yet: a stored send to the dialog teaches it the pair
    other = build_services(settings, database, clock=clock)
    await other.messages.send(ben, MessageDraft(dialog_id=first, body="hi"))
    assert await other.dialogs.private_dialog_id(ann, ben.user_id) == first
    assert len(private_lookups) == 1


async def test_a_deleted_private_dialog_is_created_again_by_the_next_send(recorded, users, stores):
    dialogs, messages, ann, ben = recorded.dialogs, recorded.messages, users["ann"], users["ben"]
    first = await dialogs.private_dialog_id(ann, ben.user_id)
    await messages.send(ann, MessageDraft(dialog_id=first, body="one"))
    assert (await dialogs.delete(ann, [first], force=True)).deleted == [first]
    second = await dialogs.private_dialog_id(ann, ben.user_id)
    assert second != first
    stored = await messages.send(ann, MessageDraft(dialog_id=second, body="two"))
    assert stored.dialog_id == second
    # deleted by another process: the send that finds it gone makes this one forget it
    for save in (False, True):
        dialog_id = await dialogs.private_dialog_id(ben, ann.user_id)
        assert await stores[0].delete(1, dialog_id)
        with pytest.raises(NotFoundError):
            await messages.send(ben, MessageDraft(dialog_id=dialog_id, body="lost", save_to_history=save))
        again = await dialogs.private_dialog_id(ben, ann.user_id)
        assert again != dialog_id
        assert (await messages.send(ben, MessageDraft(dialog_id=again, body="found"))).dialog_id == again


def _dialog(dialog_id: str, dtype: int, occupants: list[int]) -> Dialog:
    return Dialog.from_doc({"_id": dialog_id, "app_id": 1, "type": dtype, "occupants_ids": occupants})


def test_the_private_memo_is_bounded_least_recently_used_first():
    memo = PrivateAccessMemo(limit=2)
    for dialog_id, pair in (("d1", [1, 2]), ("d2", [1, 3]), ("d3", [2, 3])):
        if dialog_id == "d3":
            assert memo.dialog_id(1, 2, 1) == "d1"  # used: d2 is now the oldest
        memo.remember(1, _dialog(dialog_id, PRIVATE, pair))
    assert len(memo) == 2
    assert (memo.dialog_id(1, 1, 2), memo.dialog_id(1, 1, 3), memo.dialog_id(1, 3, 2)) == ("d1", None, "d3")
    memo.remember(1, _dialog("d4", PRIVATE, [2, 1]))  # the pair re-created
    assert memo.dialog_id(1, 1, 2) == "d4" and len(memo) == 2
    memo.remember(1, _dialog("g", GROUP, [1, 2]))
    assert memo.dialog_id(1, 1, 2) == "d4"


async def test_find_or_create_private_rejects_bad_partners(dialogs, users):
    ann = users["ann"]
    for other in (ann.user_id, users["zed"].user_id, 987654, "abc"):
        with pytest.raises(InvalidError):
            await dialogs.find_or_create_private(ann, other)
    with pytest.raises(ForbiddenError):
        await dialogs.find_or_create_private(Requester(app_id=1), users["ben"].user_id)


async def test_create_group_members_and_event(dialogs, users, stores, publisher):
    ann, ben, cat = users["ann"], users["ben"], users["cat"]
    view, created = await dialogs.create(ann, new_dialog({
        "type": "2", "name": " Team ", "occupants_ids": f"{ben.user_id}, {cat.user_id}",
        "admins_ids": [ben.user_id]}))
    assert created
    dialog = view.dialog
    assert dialog.name == "Team" and dialog.user_id == ann.user_id and dialog.admins_ids == (ben.user_id,)
    assert dialog.xmpp_room_jid == f"1_{dialog.id}@muc.localhost"
    dialog_store, members, _ = stores
    stored = await dialog_store.get(1, dialog.id)
    assert stored.occupants_ids == (ann.user_id, ben.user_id, cat.user_id) and stored.seq == 0
    assert len(await members.for_dialog(dialog.id)) == 3
    assert view.member["user_id"] == ann.user_id and view.unread == 0
    event = publisher.events[-1]
    assert event.kind == "dialog_created" and event.dialog_id == dialog.id and event.sender_id == ann.user_id
    assert sorted(event.recipient_ids) == sorted([ann.user_id, ben.user_id, cat.user_id])


async def test_public_dialog_subscribers_are_memberships(dialogs, memberships, users, stores):
    ann, ben = users["ann"], users["ben"]
    view, _ = await dialogs.create(ann, new_dialog({"type": PUBLIC, "name": "Lobby"}))
    dialog_id = view.dialog.id
    assert view.dialog.occupants_ids == () and view.dialog.occupants_count == 1
    subscribed = await dialogs.view(ben, await memberships.subscribe(ben, dialog_id))
    assert subscribed.dialog.occupants_count == 2 and subscribed.member["user_id"] == ben.user_id
    page = await dialogs.list(ben, dialog_list({}))
    assert [v.dialog.id for v in page.items] == [dialog_id]
    await memberships.unsubscribe(ben, dialog_id)
    assert (await dialogs.list(ben, dialog_list({}))).items == []
    assert (await stores[0].get(1, dialog_id)).occupants_count == 1
    with pytest.raises(NotFoundError):
        await memberships.subscribe(users["zed"], dialog_id)


async def test_views_unread_cleared_and_deleted_for_me(dialogs, memberships, users, stores):
    ann, ben, cat = users["ann"], users["ben"], users["cat"]
    view, _ = await dialogs.create(ann, new_dialog({"type": GROUP, "name": "g",
                                         "occupants_ids": [ben.user_id, cat.user_id]}))
    dialog_id = view.dialog.id
    await send(stores, dialog_id, ann.user_id, "one")
    second = await send(stores, dialog_id, ann.user_id, "two", read_ids=[ann.user_id, cat.user_id])
    last = await send(stores, dialog_id, ben.user_id, "three")

    async def seen(who):
        return (await dialogs.list(who, dialog_list({}))).items[0]

    ben_view = await seen(ben)
    assert ben_view.unread == 2 and ben_view.dialog.last_message_id == last
    assert ben_view.last_message_status == "sent"
    ann_view = await seen(ann)
    assert ann_view.unread == 1 and ann_view.last_message_status is None
    # deleted for cat only: her last message is the previous one
    await stores[2].update(1, last, {"$push": {"deleted_for": cat.user_id}})
    cat_view = await seen(cat)
    assert cat_view.dialog.last_message_id == second and cat_view.unread == 1
    # cleared history: nothing unread, no last message, for cat only
    await memberships.clear_history(cat, dialog_id)
    cat_view = await seen(cat)
    assert cat_view.unread == 0 and cat_view.dialog.last_message is None
    assert (await seen(ben)).dialog.last_message_id == last
    assert (await stores[1].get(dialog_id, cat.user_id))["cleared_seq"] == 3


async def test_update_occupants_changes_memberships_and_publishes(dialogs, users, stores, publisher):
    ann, ben, cat, dan = users["ann"], users["ben"], users["cat"], users["dan"]
    view, _ = await dialogs.create(ann, new_dialog({"type": GROUP, "name": "g", "occupants_ids": [ben.user_id]}))
    dialog_id = view.dialog.id
    updated = await dialogs.update(ben, dialog_id, dialog_change({"push_all": {"occupants_ids": [cat.user_id, dan.user_id]}}))
    assert updated.dialog.occupants_ids == (ann.user_id, ben.user_id, cat.user_id, dan.user_id)
    assert await stores[1].get(dialog_id, dan.user_id) is not None
    event = publisher.events[-1]
    assert event.kind == "dialog_updated" and sorted(event.payload["added_ids"]) == sorted([cat.user_id, dan.user_id])
    with pytest.raises(ForbiddenError):
        await dialogs.update(ben, dialog_id, dialog_change({"pull_all": {"occupants_ids": [dan.user_id]}}))
    await dialogs.update(ann, dialog_id, dialog_change({"pull_all": {"occupants_ids": [dan.user_id]}}))
    assert await stores[1].get(dialog_id, dan.user_id) is None
    event = publisher.events[-1]
    assert event.payload["removed_ids"] == [dan.user_id] and dan.user_id in event.recipient_ids
    # the removed user no longer sees the dialog
    with pytest.raises(NotFoundError):
        await dialogs.update(dan, dialog_id, dialog_change({"name": "x"}))
    with pytest.raises(NotFoundError):
        await dialogs.update(users["zed"], dialog_id, dialog_change({"name": "x"}))


async def test_leave_and_force_delete(dialogs, users, stores, publisher):
    ann, ben, cat = users["ann"], users["ben"], users["cat"]
    view, _ = await dialogs.create(ann, new_dialog({"type": GROUP, "name": "g",
                                         "occupants_ids": [ben.user_id, cat.user_id]}))
    dialog_id = view.dialog.id
    await send(stores, dialog_id, ben.user_id, "hi")
    result = await dialogs.delete(cat, [dialog_id], force=False)
    assert result.deleted == [dialog_id]
    assert cat.user_id not in (await stores[0].get(1, dialog_id)).occupants_ids
    result = await dialogs.delete(ben, [dialog_id], force=True)
    assert result.wrong_permissions == [dialog_id] and result.deleted == []
    ghost = new_id()
    result = await dialogs.delete(ann, [dialog_id, ghost, "nope"], force=True)
    assert result.deleted == [dialog_id] and result.not_found == [ghost, "nope"]
    assert await stores[0].get(1, dialog_id) is None
    assert await stores[1].for_dialog(dialog_id) == []
    assert await stores[2].count(1, {"chat_dialog_id": dialog_id}) == 0
    event = publisher.events[-1]
    assert event.kind == "dialog_deleted" and sorted(event.recipient_ids) == sorted([ann.user_id, ben.user_id])
