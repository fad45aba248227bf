"""Client message ids of any format (issue 15 §5): `client_id` makes a send idempotent per sender
and dialog, also for concurrent sends (group-committed batches) and in a race the index settles."""
from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from models.errors import InvalidError
from models.events import RecordingPublisher
from models.messages import Message, draft_from_params, make_draft
from models.services.container import build_services
from models.storage.messages import MessageStore
from tests.services.test_messages import group, user


@pytest.fixture
async def svc(settings, database, clock):
    built = build_services(settings, database, clock=clock, publisher=RecordingPublisher())
    await built.start()
    return built


async def send(svc, who, dialog_id, body, **fields):
    return await svc.messages.send(who, make_draft(dialog_id=dialog_id, body=body, **fields))


async def test_a_repeated_client_id_answers_the_stored_message(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    local = str(uuid.uuid4())
    first = await send(svc, alice, dialog_id, "hello", client_id=local)
    again = await send(svc, alice, dialog_id, "hello (resent)", client_id=local)
    assert again == first and first.client_id == local and first.body == "hello"
    assert first.to_wire()["client_id"] == local
    messages = MessageStore(svc.database.db)
    assert await messages.count(1, {"chat_dialog_id": dialog_id}) == 1
    assert [e.kind for e in svc.publisher.events].count("message_created") == 1
    # per sender and dialog: bob's message with the same client id, or alice's in another
    # dialog, are messages of their own
    other = await group(svc, alice, bob)
    theirs = await send(svc, bob, dialog_id, "mine", client_id=local)
    elsewhere = await send(svc, alice, other, "there", client_id=local)
    assert len({first.id, theirs.id, elsewhere.id}) == 3
    assert await messages.count(1, {"chat_dialog_id": dialog_id}) == 2
    # a message without one is never a repeat
    plain = [await send(svc, alice, dialog_id, "same") for _ in range(2)]
    assert plain[0].id != plain[1].id and plain[0].client_id is None


async def test_a_private_send_by_recipient_id_repeats_too(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    first = await svc.messages.send(alice, make_draft(recipient_id=bob.user_id, body="hi",
                                                      client_id="localId-1"))
    again = await svc.messages.send(alice, make_draft(dialog_id=first.dialog_id, body="hi",
                                                      client_id="localId-1"))
    assert again.id == first.id


async def test_concurrent_sends_with_one_client_id_store_one_message(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    results = await asyncio.gather(*[send(svc, alice, dialog_id, f"try {i}", client_id="hash-1")
                                     for i in range(5)])
    assert len({m.id for m in results}) == 1
    # also when the sends name the dialog differently (by recipient and by id) in one batch
    first, second = await asyncio.gather(
        svc.messages.send(alice, make_draft(recipient_id=bob.user_id, body="a", client_id="c2")),
        svc.messages.send(alice, make_draft(recipient_id=bob.user_id, body="b", client_id="c2")))
    assert first.id == second.id
    messages = MessageStore(svc.database.db)
    assert await messages.count(1, {"chat_dialog_id": dialog_id}) == 1
    assert await messages.count(1, {"chat_dialog_id": first.dialog_id}) == 1


async def test_the_store_returns_the_winner_of_a_race(svc):
    """Two processes insert the same client id at once: the unique index keeps one, the loser
    gets the stored message (on the embedded store the index is absent: found by the lookup)."""
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    messages = MessageStore(svc.database.db)
    stored, created = await messages.insert(Message(
        id="65a1b2c3d4e5f6a7b8c9d0e1", app_id=1, dialog_id=dialog_id, sender_id=alice.user_id,
        body="first", client_id="race"))
    assert created
    found = await messages.find_by_client_ids(1, [(alice.user_id, dialog_id, "race"),
                                                  (bob.user_id, dialog_id, "race")])
    assert list(found) == [(alice.user_id, dialog_id, "race")]
    assert found[(alice.user_id, dialog_id, "race")].id == stored.id


@pytest.mark.mongo
@pytest.mark.skipif(not os.environ.get("CHAT_TEST_MONGO_URL"), reason="needs a real MongoDB "
                    "(mongomock has no partial indexes)")
async def test_the_unique_index_settles_a_race_on_mongodb(svc):
    alice, bob = await user(svc, "alice"), await user(svc, "bob")
    dialog_id = await group(svc, alice, bob)
    messages = MessageStore(svc.database.db)
    one = Message(id="65a1b2c3d4e5f6a7b8c9d0e1", app_id=1, dialog_id=dialog_id,
                  sender_id=alice.user_id, body="one", client_id="race")
    two = one._replace(id="65a1b2c3d4e5f6a7b8c9d0e2", body="two")
    [(first, created1)] = await messages.insert_many([one])
    [(second, created2), (third, created3)] = await messages.insert_many(
        [two, two._replace(id="65a1b2c3d4e5f6a7b8c9d0e3", client_id="other")])
    assert created1 and not created2 and created3 and second.id == first.id


def test_client_ids_are_checked():
    assert draft_from_params({"message": "x", "client_id": "a" * 64}).client_id == "a" * 64
    assert draft_from_params({"message": "x", "client_id": 17}).client_id == "17"
    assert draft_from_params({"message": "x", "client_id": ""}).client_id is None
    assert "client_id" not in draft_from_params({"message": "x", "client_id": "c"}).custom
    for bad in ("a" * 65, ["x"], {"a": 1}, True):
        with pytest.raises(InvalidError) as caught:
            draft_from_params({"message": "x", "client_id": bad})
        assert caught.value.field == "client_id"
