"""Conversation events in the services (issue 15 §3): which notices each dialog change carries in
its event, whom they go to, and the stored service messages when the setting is on."""
from __future__ import annotations

import pytest

from models.conversation import Notice, NoticeType, update_notices
from models.events import RecordingPublisher
from models.requester import Requester, admin
from models.services.access import BROADCAST, PUBLIC
from models.services.container import Services, build_services
from models.storage.members import MemberStore
from tests.services.commands import dialog_change, history, new_dialog


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def recorded(services, settings, database, clock, publisher) -> Services:
    return build_services(settings, database, clock=clock, publisher=publisher)


@pytest.fixture
async def users(services) -> dict[str, Requester]:
    out = {}
    for name in ("ann", "ben", "cat", "dan"):
        user = await services.users.create_guest(1, name.title())
        out[name] = Requester(app_id=1, user_id=user.id)
    return out


async def group(recorded, users, *names: str, dtype: int = 2):
    view, _ = await recorded.dialogs.create(users["ann"], new_dialog({
        "type": dtype, "name": "Team", "occupants_ids": [users[n].user_id for n in names]}))
    return view.dialog


def notices(publisher: RecordingPublisher, kind: str = "dialog_updated") -> list[list[dict]]:
    return [e.payload.get("notices") for e in publisher.events if e.kind == kind]


def test_update_notices_order_and_rules():
    found = update_notices({"name": "New", "photo": None, "description": "same"}, [5, 6], [7],
                           [5], [7, 8], 1, {"name": "Old", "photo": "p", "description": "same"})
    assert found == [Notice(NoticeType.OCCUPANTS_ADDED, (5, 6)),
                     Notice(NoticeType.OCCUPANTS_REMOVED, (7,)),
                     Notice(NoticeType.ADMINS_ADDED, (5,)),
                     Notice(NoticeType.ADMINS_REMOVED, (8,)),  # 7 went as an occupant
                     Notice(NoticeType.NAME_CHANGED, value="New"),
                     Notice(NoticeType.PHOTO_CHANGED, value=None)]
    assert update_notices({}, [], [3], [], [3], 3, {}) == [Notice(NoticeType.OCCUPANT_LEFT, (3,))]
    assert update_notices({"name": "x"}, [], [], [], [], 1, {"name": "x"}) == []
    names = {1: "Ann", 5: "Ben", 6: "Cat"}
    assert found[0].text(names, 1) == "Ann added Ben and Cat"
    assert Notice(NoticeType.OCCUPANTS_ADDED, (5, 6, 9)).text(names, 1) == \
        "Ann added Ben, Cat and User 9"
    assert found[2].text(names, 1) == "Ann made Ben an admin"
    assert found[5].text(names, 0) == "An administrator removed the photo"
    assert found[4].extension(1) == {"notification_type": "name_changed", "actor_id": "1",
                                     "name": "New"}
    assert found[0].extension(1)["user_ids"] == "5,6"
    assert "photo" not in found[5].extension(1)


async def test_each_change_carries_its_notices(recorded, users, publisher):
    ann, ben, cat, dan = (users[n] for n in ("ann", "ben", "cat", "dan"))
    dialog = await group(recorded, users, "ben", "cat")
    assert notices(publisher, "dialog_created") == [None]  # creation tells nothing
    await recorded.dialogs.update(ann, dialog.id, dialog_change({
        "name": "Team", "push_all": {"occupants_ids": [dan.user_id]}}))
    [[added]] = notices(publisher)
    assert added["notification_type"] == "occupants_added" and added["user_ids"] == str(dan.user_id)
    assert added["text"] == "Ann added Dan" and added["dialog_type"] == 2 and len(added["id"]) == 24
    # leaving by pulling oneself, and by "delete for me"
    await recorded.dialogs.update(cat, dialog.id, dialog_change(
        {"pull_all": {"occupants_ids": [cat.user_id]}}))
    await recorded.dialogs.delete(dan, [dialog.id], force=False)
    left = [n[0] for n in notices(publisher)[1:]]
    assert [(n["notification_type"], n["user_ids"], n["actor_id"]) for n in left] == [
        ("occupant_left", str(cat.user_id), str(cat.user_id)),
        ("occupant_left", str(dan.user_id), str(dan.user_id))]
    leave_event = publisher.events[-1]
    assert dan.user_id in leave_event.recipient_ids  # the one who left hears of it too
    # a ban of an occupant is a removal; the dialog's deletion is told to its last members
    await recorded.bans.ban(ann, dialog.id, ben.user_id)
    [ban] = notices(publisher)[-1]
    assert ban["notification_type"] == "occupants_removed" and ban["user_ids"] == str(ben.user_id)
    await recorded.dialogs.delete(ann, [dialog.id], force=True)
    [deleted] = [e for e in publisher.events if e.kind == "dialog_deleted"]
    assert [n["notification_type"] for n in deleted.payload["notices"]] == ["dialog_deleted"]
    assert deleted.recipient_ids == [ann.user_id]
    # nothing was stored: service messages are off by default
    assert "message_created" not in publisher.kinds()


async def test_public_subscriptions_are_not_told(recorded, users, publisher):
    ann, ben = users["ann"], users["ben"]
    view, _ = await recorded.dialogs.create(ann, new_dialog({"type": PUBLIC, "name": "Open"}))
    await recorded.memberships.subscribe(ben, view.dialog.id)
    await recorded.memberships.unsubscribe(ben, view.dialog.id)
    assert all(not n for n in notices(publisher))
    await recorded.dialogs.update(ann, view.dialog.id, dialog_change({"description": "about"}))
    [[described]] = [n for n in notices(publisher) if n]
    assert described["notification_type"] == "description_changed"
    assert described["description"] == "about"


async def test_service_messages_are_stored_when_turned_on(recorded, users, publisher, settings,
                                                          services):
    settings.dialogs.service_messages = True
    ann, ben, cat = users["ann"], users["ben"], users["cat"]
    dialog = await group(recorded, users, "ben")
    await recorded.memberships.set_hidden(ben, dialog.id, True)
    await recorded.dialogs.update(ann, dialog.id, dialog_change({
        "name": "Renamed", "push_all": {"occupants_ids": [cat.user_id]}}))
    [[added, renamed]] = notices(publisher)
    page = await recorded.messages.history(ben, history({"chat_dialog_id": dialog.id}))
    assert [(m.id, m.body, m.sender_id, m.seq) for m in page.items] == [
        (added["id"], "Ann added Cat", ann.user_id, 1),
        (renamed["id"], "Ann renamed the dialog to \u201cRenamed\u201d", ann.user_id, 2)]
    assert dict(page.items[0].custom) == {"notification_type": "occupants_added",
                                          "actor_id": str(ann.user_id),
                                          "user_ids": str(cat.user_id)}
    # the hidden dialog shows again, the messages count as unread, the actor's do not
    member = await MemberStore(services.database.db).get(dialog.id, ben.user_id)
    assert member["hidden"] is False
    counts = await recorded.receipts.unread_counts(cat, None)
    assert counts["total"] == 2
    assert (await recorded.receipts.unread_counts(ann, None))["total"] == 0
    created = [e for e in publisher.events if e.kind == "message_created"]
    assert [e.payload["message"]["_id"] for e in created] == [added["id"], renamed["id"]]
    assert all(e.payload["send_to_chat"] and e.payload["silent"] and e.payload["to_sender"]
               for e in created)
    assert sorted(created[0].recipient_ids) == sorted([ben.user_id, cat.user_id])
    # the one who leaves is told live but not sent the stored message
    await recorded.dialogs.delete(cat, [dialog.id], force=False)
    left = [e for e in publisher.events if e.kind == "message_created"][-1]
    assert left.payload["custom"]["notification_type"] == "occupant_left"
    assert left.payload["to_sender"] is False and cat.user_id not in left.recipient_ids
    # the application's admin is the actor 0
    await recorded.dialogs.update(admin(1), dialog.id, dialog_change({"name": "By admin"}))
    last = [e for e in publisher.events if e.kind == "message_created"][-1]
    assert last.sender_id == 0 and last.payload["message"]["message"] == \
        "An administrator renamed the dialog to \u201cBy admin\u201d"


async def test_broadcast_changes_are_told_to_its_occupants(recorded, users, publisher):
    ann, ben = users["ann"], users["ben"]
    dialog = await group(recorded, users, "ben", dtype=BROADCAST)
    await recorded.dialogs.update(ann, dialog.id, dialog_change({"photo": "x.png"}))
    event = publisher.events[-1]
    assert [n["notification_type"] for n in event.payload["notices"]] == ["photo_changed"]
    assert sorted(event.recipient_ids) == sorted([ann.user_id, ben.user_id])
