"""BanService on real stores: what a ban leaves in the dialog and its memberships, the events it
publishes, and that a banned user who slipped back in while being banned (a subscribe or an add
racing the ban) still receives, reads and posts nothing: the access authority has the last word."""
from __future__ import annotations

import pytest

from models.errors import ForbiddenError
from models.events import RecordingPublisher
from models.messages import MessageDraft
from models.requester import Requester
from models.services.access import BANNED, GROUP, PUBLIC
from models.services.container import Services, build_services
from models.storage.dialogs import DialogStore
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
    for name in ("ann", "ben", "cat"):
        user = await services.users.create_guest(1, name)
        out[name] = Requester(app_id=1, user_id=user.id)
    return out


async def test_a_ban_removes_and_tells_the_room(recorded, users, publisher, services):
    ann, ben, cat = users["ann"], users["ben"], users["cat"]
    view, _ = await recorded.dialogs.create(ann, new_dialog(
        {"type": GROUP, "name": "g", "occupants_ids": [ben.user_id, cat.user_id]}))
    dialog_id = view.dialog.id
    publisher.events.clear()
    await recorded.bans.ban(ann, dialog_id, ben.user_id)
    stored = await DialogStore(services.database.db).get(1, dialog_id)
    assert list(stored.banned_ids) == [ben.user_id] and ben.user_id not in stored.occupants_ids
    assert await MemberStore(services.database.db).get(dialog_id, ben.user_id) is None
    [event] = publisher.events
    assert event.kind == "dialog_updated" and event.payload["removed_ids"] == [ben.user_id]
    assert set(event.recipient_ids) == {ann.user_id, ben.user_id, cat.user_id}
    assert event.payload["fields"] == ["banned_ids", "occupants_ids"]


async def test_a_banned_user_who_slipped_back_in_gets_nothing(recorded, users, publisher, services):
    ann, ben = users["ann"], users["ben"]
    view, _ = await recorded.dialogs.create(ann, new_dialog({"type": PUBLIC, "name": "p"}))
    dialog_id = view.dialog.id
    await recorded.memberships.subscribe(ben, dialog_id)
    await recorded.bans.ban(ann, dialog_id, ben.user_id)
    # the race: ben's subscribe (checked before the ban) writes his membership after it
    await MemberStore(services.database.db).add(1, dialog_id, [ben.user_id], {"subscribed": True})
    publisher.events.clear()
    await recorded.messages.send(ann, MessageDraft(dialog_id=dialog_id, body="hi"))
    [created] = [e for e in publisher.events if e.kind == "message_created"]
    assert ben.user_id not in created.recipient_ids
    with pytest.raises(ForbiddenError, match=BANNED):
        await recorded.messages.history(ben, history({"chat_dialog_id": dialog_id}))
    with pytest.raises(ForbiddenError, match=BANNED):
        await recorded.messages.send(ben, MessageDraft(dialog_id=dialog_id, body="back"))
    room = await recorded.rooms.get(1, dialog_id)
    assert not room.may_join(ben.user_id) and not room.receives(ben.user_id)
    assert room.may_join(ann.user_id)


async def test_a_group_add_racing_a_ban_does_not_let_them_in(recorded, users, services, publisher):
    ann, ben, cat = users["ann"], users["ben"], users["cat"]
    view, _ = await recorded.dialogs.create(ann, new_dialog(
        {"type": GROUP, "name": "g", "occupants_ids": [cat.user_id]}))
    dialog_id = view.dialog.id
    await recorded.bans.ban(ann, dialog_id, ben.user_id)
    # the race: an add checked before the ban lands after it
    await DialogStore(services.database.db).change(1, dialog_id, {}, {"occupants_ids": [ben.user_id]},
                                                   {}, services.clock.now())
    access = await recorded.rooms.get(1, dialog_id)
    assert not access.may_join(ben.user_id)
    with pytest.raises(ForbiddenError, match=BANNED):
        await recorded.messages.send(ben, MessageDraft(dialog_id=dialog_id, body="x"))
    publisher.events.clear()
    await recorded.dialogs.update(ann, dialog_id, dialog_change({"name": "g2"}))
    [updated] = publisher.events
    assert ben.user_id not in updated.recipient_ids and cat.user_id in updated.recipient_ids
