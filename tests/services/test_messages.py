"""MessageService on real stores (mongomock): sends, history order, read marks, unread counts,
edits and deletes, with events recorded in memory."""
from __future__ import annotations

import pytest

from models.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from models.events import RecordingPublisher
from models.requester import Requester
from models.services.container import build_services
from models.messages import draft_from_params, make_draft
from tests.services.commands import history, message_update, new_dialog, unread_ids
from models.storage.dialogs import DialogStore
from models.storage.members import MemberStore
from models.storage.messages import MessageStore

CLIENT_ID = "65a1b2c3d4e5f6a7b8c9d0e1"


@pytest.fixture
async def svc(settings, database, clock):
    built = build_services(settings, database, clock=clock, publisher=RecordingPublisher())
    await built.start()
    return built


@pytest.fixture
def events(svc) -> RecordingPublisher:
    return svc.publisher


async def user(svc, name: str, app_id: int = 1) -> Requester:
    created = await svc.users.create_guest(app_id, name)
    return Requester(app_id=app_id, user_id=created.id)


async def group(svc, owner: Requester, *others: Requester, dtype: int = 2, **extra) -> str:
    view, _ = await svc.dialogs.create(owner, new_dialog({"type": dtype, "name": "team",
                                               "occupants_ids": [o.user_id for o in others], **extra}))
    return view.dialog.id


def stores(svc):
    db = svc.database.db
    return MessageStore(db), DialogStore(db), MemberStore(db)


async def send(svc, who: Requester, dialog_id: str, body: str, **fields):
    return await svc.messages.send(who, make_draft(dialog_id=dialog_id, body=body, **fields))


async def test_send_is_idempotent_on_the_client_id(svc, events):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    first = await send(svc, alice, dialog_id, "hello", id=CLIENT_ID.upper(), date_sent=1700000000)
    again = await send(svc, alice, dialog_id, "hello (resent)", id=CLIENT_ID)
    assert first.id == again.id == CLIENT_ID
    assert again.body == "hello" and again.seq == 1
    messages, dialogs, _ = stores(svc)
    assert await messages.count(1, {"chat_dialog_id": dialog_id}) == 1
    dialog = await dialogs.get(1, dialog_id)
    assert dialog.seq == 1 and dialog.last_message_id == CLIENT_ID
    assert dialog.last_message == "hello" and dialog.last_message_date_sent == 1700000000
    created = [e for e in events.events if e.kind == "message_created"]
    assert len(created) == 1
    assert created[0].recipient_ids == [bob.user_id] and created[0].dialog_id == dialog_id
    assert created[0].payload["message"]["_id"] == CLIENT_ID
    assert created[0].payload["message"]["message"] == "hello"

    # the same id from someone else, or in another application, is a conflict, not a copy
    with pytest.raises(ConflictError):
        await send(svc, bob, dialog_id, "mine?", id=CLIENT_ID)
    carol = await user(svc, "carol", app_id=2)
    dave = await user(svc, "dave", app_id=2)
    other_dialog = await group(svc, carol, dave)
    with pytest.raises(ConflictError):
        await send(svc, carol, other_dialog, "x", id=CLIENT_ID)
    assert (await dialogs.get(2, other_dialog)).seq == 0
    assert await messages.count(2, {}) == 0


async def test_history_order_is_stable_for_equal_date_sent(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    # ids chosen so that _id order disagrees with send order: seq must decide
    ids = ["ffffffffffffffffffffff01", "000000000000000000000002", "888888888888888888888803"]
    for n, mid in enumerate(ids):
        await send(svc, alice, dialog_id, f"m{n}", id=mid, date_sent=1700000000)
    await send(svc, alice, dialog_id, "older", date_sent=1600000000)
    page = await svc.messages.history(bob, history({"chat_dialog_id": dialog_id, "mark_as_read": "0"}))
    assert [d.body for d in page.items] == ["older", "m0", "m1", "m2"]
    page = await svc.messages.history(bob, history({"chat_dialog_id": dialog_id, "sort_desc": "date_sent",
                                            "mark_as_read": "0"}))
    assert [d.body for d in page.items] == ["m2", "m1", "m0", "older"]
    page = await svc.messages.history(bob, history({"chat_dialog_id": dialog_id, "limit": "2", "skip": "1",
                                            "mark_as_read": "0"}))
    assert [d.body for d in page.items] == ["m0", "m1"] and (page.skip, page.limit) == (1, 2)


async def test_mark_read_rules_and_unread_counts(svc, events):
    alice, bob, carol = await user(svc, "alice"), await user(svc, "bob"), await user(svc, "carol")
    dialog_id = await group(svc, bob, alice, carol)
    sent = [await send(svc, bob, dialog_id, f"m{n}") for n in range(3)]
    await send(svc, alice, dialog_id, "own message is never unread")
    messages, _, members = stores(svc)

    assert await svc.receipts.unread_counts(alice, unread_ids(None)) == {"total": 3}
    assert await svc.receipts.unread_counts(bob, unread_ids(None)) == {"total": 1}
    # mark_as_read=0 reads without marking
    await svc.messages.history(alice, history({"chat_dialog_id": dialog_id, "mark_as_read": "0"}))
    assert await svc.receipts.unread_counts(alice, unread_ids([dialog_id])) == {"total": 3, dialog_id: 3}
    assert "messages_read" not in events.kinds()

    # carol reads only the second message: her read position can't jump over the first
    await svc.messages.update(carol, message_update([sent[1].id], {"read": "1"}))
    assert (await members.get(dialog_id, carol.user_id))["last_read_seq"] == 0
    assert await svc.receipts.unread_counts(carol, unread_ids(f"{dialog_id}")) == {"total": 3, dialog_id: 3}
    await svc.messages.update(carol, message_update([sent[0].id], {"read": 1}))
    assert (await members.get(dialog_id, carol.user_id))["last_read_seq"] == 2
    assert await svc.receipts.unread_counts(carol, unread_ids(None)) == {"total": 2}
    read_event = [e for e in events.events if e.kind == "messages_read"][0]
    assert read_event.sender_id == carol.user_id and read_event.recipient_ids == [bob.user_id]
    assert read_event.payload["message_ids"] == [sent[1].id]

    # a history read marks what it returned (read implies delivered)
    page = await svc.messages.history(alice, history({"chat_dialog_id": dialog_id}))
    assert all(alice.user_id in d.read_ids for d in page.items)
    stored = await messages.get(1, sent[2].id)
    assert alice.user_id in stored.read_ids and alice.user_id in stored.delivered_ids
    assert (await members.get(dialog_id, alice.user_id))["last_read_seq"] == 4
    assert await svc.receipts.unread_counts(alice, unread_ids(None)) == {"total": 0}
    # a read filter, as the viewer sees it
    unread_page = await svc.messages.history(carol, history({"chat_dialog_id": dialog_id, "read": "0",
                                                     "mark_as_read": "0"}))
    assert [d.body for d in unread_page.items] == ["m2", "own message is never unread"]

    # new message → unread again; PUT without ids marks everything in the dialog
    await send(svc, bob, dialog_id, "m3")
    assert (await svc.receipts.unread_counts(carol, unread_ids([dialog_id])))[dialog_id] == 3
    await svc.messages.update(carol, message_update(None, {"read": "1", "chat_dialog_id": dialog_id}))
    assert await svc.receipts.unread_counts(carol, unread_ids([dialog_id])) == {"total": 0, dialog_id: 0}
    assert (await members.get(dialog_id, carol.user_id))["last_read_seq"] == 5

    # unknown and foreign dialog ids are left out of the answer
    assert await svc.receipts.unread_counts(carol, unread_ids(["nope", "65a0000000000000000000d1"])) == {"total": 0}


async def test_recipient_id_uses_the_private_dialog(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    first = await svc.messages.send(alice, make_draft(recipient_id=bob.user_id, body="hi"))
    second = await svc.messages.send(bob, make_draft(recipient_id=alice.user_id, body="hey"))
    assert first.dialog_id == second.dialog_id
    assert first.recipient_id == bob.user_id and second.recipient_id == alice.user_id
    _, dialogs, _ = stores(svc)
    dialog = await dialogs.get(1, first.dialog_id)
    assert dialog.type == 3 and dialog.seq == 2 and dialog.last_message == "hey"
    with pytest.raises(InvalidError) as exc:
        await svc.messages.send(alice, make_draft(recipient_id=alice.user_id, body="me"))
    assert exc.value.field == "recipient_id"
    with pytest.raises(NotFoundError):
        await svc.messages.send(alice, make_draft(recipient_id=999999, body="nobody"))
    stranger = await user(svc, "stranger", app_id=2)
    with pytest.raises(NotFoundError):  # users of another app are not reachable
        await svc.messages.send(alice, make_draft(recipient_id=stranger.user_id, body="x"))
    with pytest.raises(InvalidError):
        await svc.messages.send(alice, make_draft(body="where to?"))


async def test_who_may_post(svc):
    owner, member, outsider = await user(svc, "owner"), await user(svc, "member"), await user(svc, "out")
    broadcast = await group(svc, owner, member, dtype=1)
    await send(svc, owner, broadcast, "news")
    with pytest.raises(ForbiddenError):
        await send(svc, member, broadcast, "can I?")
    with pytest.raises(ForbiddenError):  # every user of the app reads a broadcast; admins post
        await send(svc, outsider, broadcast, "hello?")
    public = await group(svc, owner, dtype=4)
    with pytest.raises(ForbiddenError):
        await send(svc, outsider, public, "not subscribed")
    await svc.memberships.subscribe(outsider, public)
    assert (await send(svc, outsider, public, "subscribed")).recipient_id == 0
    with pytest.raises(NotFoundError):
        await send(svc, outsider, "not-an-id", "x")


async def test_a_new_message_shows_a_hidden_dialog_again(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    first = await svc.messages.send(alice, make_draft(recipient_id=bob.user_id, body="hi"))
    dialog_id = first.dialog_id
    await svc.dialogs.delete(bob, [dialog_id], force=False)
    _, _, members = stores(svc)
    assert (await members.get(dialog_id, bob.user_id))["hidden"] is True
    await send(svc, alice, dialog_id, "still there?")
    assert (await members.get(dialog_id, bob.user_id))["hidden"] is False


async def test_not_saved_to_history_is_published_only(svc, events):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    doc = await send(svc, alice, dialog_id, "ephemeral", save_to_history=False, send_to_chat=True)
    messages, dialogs, _ = stores(svc)
    assert await messages.count(1, {}) == 0 and (await dialogs.get(1, dialog_id)).seq == 0
    event = events.events[-1]
    assert event.kind == "message_created" and event.payload["message"]["_id"] == doc.id
    assert event.payload["send_to_chat"] is True and event.payload["save_to_history"] is False


async def test_edit_only_by_the_sender(svc, events):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    msg = await send(svc, alice, dialog_id, "typo")
    with pytest.raises(ForbiddenError):
        await svc.messages.update(bob, message_update([msg.id], {"message": "hijack"}))
    await svc.messages.update(alice, message_update([msg.id], {"message": "fixed"}))
    messages, dialogs, _ = stores(svc)
    assert (await messages.get(1, msg.id)).body == "fixed"
    assert (await dialogs.get(1, dialog_id)).last_message == "fixed"
    updated = [e for e in events.events if e.kind == "message_updated"]
    assert len(updated) == 1 and updated[0].payload["message"] == "fixed"
    assert updated[0].recipient_ids == [bob.user_id] and updated[0].payload["last"] is True
    with pytest.raises(InvalidError):
        await svc.messages.update(alice, message_update([msg.id, msg.id], {"message": "two"}))
    with pytest.raises(NotFoundError):
        await svc.messages.update(alice, message_update(["65a0000000000000000000d1"], {"message": "ghost"}))


async def test_delete_permissions_and_last_message(svc, events):
    owner, admin, ann, ben = [await user(svc, n) for n in ("owner", "admin", "ann", "ben")]
    dialog_id = await group(svc, owner, admin, ann, ben, admins_ids=[admin.user_id])
    by_ann = await send(svc, ann, dialog_id, "ann 1")
    by_ben = await send(svc, ben, dialog_id, "ben 1")
    last = await send(svc, ann, dialog_id, "ann 2")
    messages, dialogs, _ = stores(svc)

    # a regular user may force-delete only their own messages
    result = await svc.messages.delete(ann, [by_ben.id, last.id, "nope"], force=True)
    assert result.deleted == [last.id] and result.wrong_permissions == [by_ben.id]
    assert result.not_found == ["nope"]
    assert await messages.get(1, last.id) is None
    dialog = await dialogs.get(1, dialog_id)
    assert dialog.last_message_id == by_ben.id and dialog.last_message == "ben 1"
    deleted_event = [e for e in events.events if e.kind == "message_deleted"][0]
    assert deleted_event.payload["message_ids"] == [last.id]
    assert sorted(deleted_event.recipient_ids) == sorted([owner.user_id, admin.user_id, ben.user_id])

    # without force: hidden for the caller only, and no longer unread for them
    assert (await svc.receipts.unread_counts(owner, unread_ids(None)))["total"] == 2
    result = await svc.messages.delete(owner, [by_ben.id], force=False)
    assert result.deleted == [by_ben.id]
    page = await svc.messages.history(owner, history({"chat_dialog_id": dialog_id, "mark_as_read": "0"}))
    assert [d.id for d in page.items] == [by_ann.id]
    assert (await svc.receipts.unread_counts(owner, unread_ids(None)))["total"] == 1
    assert (await svc.messages.delete(owner, [by_ben.id], force=False)).not_found == [by_ben.id]
    page = await svc.messages.history(ann, history({"chat_dialog_id": dialog_id, "mark_as_read": "0"}))
    assert len(page.items) == 2

    # an admin may delete anyone's message for everyone; the last one going empties last_message
    result = await svc.messages.delete(admin, [by_ann.id, by_ben.id], force=True)
    assert sorted(result.deleted) == sorted([by_ann.id, by_ben.id])
    dialog = await dialogs.get(1, dialog_id)
    assert dialog.last_message_id is None and dialog.last_message is None


async def test_private_dialog_deletes(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    msg = await svc.messages.send(alice, make_draft(recipient_id=bob.user_id, body="hi"))
    result = await svc.messages.delete(bob, [msg.id], force=True)
    assert result.wrong_permissions == [msg.id]
    result = await svc.messages.delete(bob, [msg.id], force=False)
    assert result.deleted == [msg.id]
    outsider = await user(svc, "eve")
    result = await svc.messages.delete(outsider, [msg.id], force=True)
    assert result.not_found == [msg.id]


async def test_a_remembered_private_dialog_that_was_deleted_is_not_found(svc):
    """Senders' access to private dialogs is remembered between sends; a dialog deleted for
    everyone meanwhile still answers "not found", and the next send by recipient makes a new one."""
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    first = await svc.messages.send(alice, make_draft(recipient_id=bob.user_id, body="one"))
    dialog_id = first.dialog_id
    await send(svc, alice, dialog_id, "two")  # remembered from here
    result = await svc.dialogs.delete(alice, [dialog_id], force=True)
    assert result.deleted == [dialog_id]
    for _ in range(2):  # the first send finds out, the second asks the store again
        with pytest.raises(NotFoundError):
            await send(svc, alice, dialog_id, "three")
    again = await svc.messages.send(alice, make_draft(recipient_id=bob.user_id, body="four"))
    assert again.dialog_id != dialog_id
    outsider = await user(svc, "eve")
    with pytest.raises(NotFoundError):  # never remembered for someone else
        await send(svc, outsider, again.dialog_id, "let me in")


def test_draft_parsing_is_lax_but_checked():
    draft = draft_from_params({
        "chat_dialog_id": "65a0000000000000000000d1", "message": 42, "send_to_chat": "1",
        "markable": 1, "save_to_history": "0", "date_sent": "1700000000.7",
        "attachments": {"0": {"type": "image", "id": "3004"}, "1": {"type": "video", "uid": "ab"}},
        "country": "USA", "meta": {"a": {"b": 1}}, "read_ids": [1], "sender_id": 5})
    assert draft.dialog_id == "65a0000000000000000000d1" and draft.body == "42"
    assert draft.send_to_chat and draft.markable and not draft.save_to_history
    assert draft.date_sent == 1700000000
    assert draft.attachments == [{"type": "image", "id": "3004"}, {"type": "video", "uid": "ab"}]
    assert draft.custom == {"country": "USA", "meta": {"a": {"b": 1}}}
    # the bridge's shape: extraParams values are strings, the stanza gives id and body
    draft = draft_from_params({"save_to_history": "1", "dialog_id": "65a0000000000000000000d1",
                               "custom_key": "v"}, id=CLIENT_ID, body="hello", send_to_chat=True)
    assert draft.id == CLIENT_ID and draft.body == "hello" and draft.custom == {"custom_key": "v"}
    for bad, field in (({"_id": "123"}, "_id"), ({"recipient_id": "x"}, "recipient_id"),
                       ({"recipient_id": -3}, "recipient_id"), ({"message": {"a": 1}}, "message"),
                       ({"attachments": "x"}, "attachments"), ({"attachments": [1]}, "attachments"),
                       ({"date_sent": "soon"}, "date_sent"), ({"markable": "maybe"}, "markable"),
                       ({"$where": "1"}, "$where"), ({"a.b": 1}, "a.b"),
                       ({"deep": {"x": {"$gt": 1}}}, "deep")):
        with pytest.raises(InvalidError) as exc:
            draft_from_params(bad)
        assert exc.value.field == field, bad


async def test_body_and_extras_size_limits(svc, settings):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    limit = settings.limits.max_message_bytes
    await send(svc, alice, dialog_id, "é" * (limit // 2))
    with pytest.raises(InvalidError) as exc:
        await send(svc, alice, dialog_id, "é" * (limit // 2 + 1))
    assert exc.value.field == "message"
    with pytest.raises(InvalidError):
        await send(svc, alice, dialog_id, "x", custom={"blob": "x" * limit})


# -- group commit ------------------------------------------------------------------------------------
async def test_concurrent_sends_share_a_batch_and_keep_every_rule(svc, events):
    import asyncio

    alice, bob, carol, eve = [await user(svc, n) for n in ("alice", "bob", "carol", "eve")]
    first = await group(svc, alice, bob)
    second = await group(svc, carol, bob)
    dup = "65a1b2c3d4e5f6a7b8c9d0ff"
    before = svc.messages._batcher.batches
    results = await asyncio.gather(
        send(svc, alice, first, "a1"),
        send(svc, bob, first, "b1"),
        send(svc, carol, second, "c1"),
        send(svc, alice, first, "dup", id=dup),
        send(svc, alice, first, "dup again", id=dup),  # same id in the same batch: a repeat
        send(svc, eve, first, "not a member"),
        send(svc, bob, first, "not stored", save_to_history=False),
        send(svc, carol, first, "carol is not in the first dialog"),
        send(svc, alice, "0123456789abcdef01234567", "no such dialog"),
        send(svc, alice, first, "a2"),
        return_exceptions=True)
    assert svc.messages._batcher.batches - before <= 2  # the duplicate id runs after its first
    a1, b1, c1, d1, d2, forbidden, unsaved, not_member, missing, a2 = results
    assert isinstance(forbidden, (ForbiddenError, NotFoundError))
    assert isinstance(not_member, (ForbiddenError, NotFoundError))
    assert isinstance(missing, NotFoundError)
    assert d1.id == d2.id == dup and d2.body == "dup"
    assert unsaved.seq == 0  # not stored: no place in the history
    # one sequence per dialog, in submission order, no gaps
    assert [m.seq for m in (a1, b1, d1, a2)] == [1, 2, 3, 4]
    assert c1.seq == 1
    messages, dialogs, _ = stores(svc)
    assert await messages.count(1, {"chat_dialog_id": first}) == 4
    stored_first = await dialogs.get(1, first)
    assert stored_first.last_message == "a2" and stored_first.seq == 4
    created = [e for e in events.events if e.kind == "message_created"]
    assert [e.payload["message"]["message"] for e in created][-6:] == \
        ["a1", "b1", "c1", "dup", "not stored", "a2"]
    assert all(bob.user_id in e.recipient_ids for e in created[-6:] if e.sender_id != bob.user_id)


async def test_a_batch_survives_a_send_that_conflicts_with_another_application(svc):
    import asyncio

    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    await send(svc, alice, dialog_id, "taken", id=CLIENT_ID)
    results = await asyncio.gather(
        send(svc, bob, dialog_id, "reuses alice's id", id=CLIENT_ID),
        send(svc, bob, dialog_id, "fine"), return_exceptions=True)
    assert isinstance(results[0], ConflictError) and results[1].seq == 2
