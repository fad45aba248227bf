"""Edits beyond the body (issue 15 §7): `PUT /chat/Message/{id}` changes attachments and custom
parameters too (author only, the limits of a send), sets `edited_at`, and is relayed as an edit."""
from __future__ import annotations

import pytest

from tests.rest.test_messages import history, post, trio  # noqa: F401


@pytest.fixture
def small(settings):
    settings.limits.max_message_bytes = 400
    return settings


async def edit(api, who, message_id, **body):
    return await api.call("PUT", f"/chat/Message/{message_id}.json", who["token"], json=body)


async def test_attachments_and_custom_parameters_change(api, trio, services, clock):
    alice, bob, _, dialog_id = trio
    status, sent = await post(api, alice, chat_dialog_id=dialog_id, message="photo soon",
                              country="USA", rating=3, attachments=[{"type": "image", "id": "1"}])
    assert status == 201 and "edited_at" not in sent
    clock.advance(60)
    status, body = await edit(api, alice, sent["_id"], attachments=[
        {"type": "image", "id": "2", "size": 10}, {"type": "audio", "uid": "u3"}],
        rating=5, country=None, mood={"level": "high"})
    assert status == 200 and body == {}
    [item] = (await history(api, bob, chat_dialog_id=dialog_id))[1]["items"]
    assert item["message"] == "photo soon"  # not given: unchanged
    assert item["attachments"] == [{"type": "image", "id": "2", "size": 10},
                                   {"type": "audio", "uid": "u3"}]
    assert item["rating"] == 5 and item["mood"] == {"level": "high"} and "country" not in item
    assert item["edited_at"].endswith("Z") and item["edited_at"] == item["updated_at"]
    assert item["edited_at"] != item["created_at"]
    # the event the relay turns into a <replace>: the message after the edit
    [event] = await services.outbox.find({"kind": "message_updated"})
    payload = event["payload"]
    assert payload["message_id"] == sent["_id"] and payload["message"] == "photo soon"
    assert payload["attachments"] == item["attachments"]
    assert payload["custom"] == {"rating": 5, "mood": {"level": "high"}}
    assert payload["edited_at"] == int(clock.now().timestamp()) and payload["last"] is True
    assert event["recipient_ids"] == sorted(event["recipient_ids"]) and alice["id"] not in \
        event["recipient_ids"]
    # body and attachments at once; [] removes the attachments
    status, _ = await edit(api, alice, sent["_id"], message="no photo after all", attachments=[])
    assert status == 200
    [item] = (await history(api, bob, chat_dialog_id=dialog_id))[1]["items"]
    assert item["message"] == "no photo after all" and item["attachments"] == []
    assert item["rating"] == 5
    status, dialogs = await api.call("GET", "/chat/Dialog.json", bob["token"])
    assert dialogs["items"][0]["last_message"] == "no photo after all"
    # control and output keys are not custom parameters: they change nothing
    status, _ = await edit(api, alice, sent["_id"], sender_id=99, date_sent=1, rating=6)
    assert status == 200
    [item] = (await history(api, bob, chat_dialog_id=dialog_id))[1]["items"]
    assert item["sender_id"] == alice["id"] and item["date_sent"] == sent["date_sent"]
    assert item["rating"] == 6


async def test_a_body_edit_sets_edited_at_and_keeps_the_rest(api, trio):
    alice, bob, _, dialog_id = trio
    _, sent = await post(api, alice, chat_dialog_id=dialog_id, message="typo", topic="x",
                         attachments=[{"type": "file", "id": "7"}])
    status, _ = await edit(api, alice, sent["_id"], message="fixed")
    assert status == 200
    [item] = (await history(api, bob, chat_dialog_id=dialog_id))[1]["items"]
    assert item["message"] == "fixed" and item["topic"] == "x"
    assert item["attachments"] == [{"type": "file", "id": "7"}] and item["edited_at"]


async def test_only_the_author_and_one_message(api, trio, services):
    alice, bob, _, dialog_id = trio
    _, one = await post(api, alice, chat_dialog_id=dialog_id, message="one")
    _, two = await post(api, alice, chat_dialog_id=dialog_id, message="two")
    status, _ = await edit(api, bob, one["_id"], attachments=[{"type": "image", "id": "9"}])
    assert status == 403
    status, _ = await edit(api, bob, one["_id"], rating=1)
    assert status == 403
    status, body = await api.call("PUT", f"/chat/Message/{one['_id']},{two['_id']}.json",
                                  alice["token"], json={"rating": 1})
    assert status == 422 and "id" in body["errors"]
    status, body = await api.call("PUT", "/chat/Message.json", alice["token"],
                                  json={"chat_dialog_id": dialog_id, "attachments": []})
    assert status == 422 and "id" in body["errors"]
    outsider = await api.new_user("outsider")
    stranger = await api.new_user("stranger", app_id=2, auth_key="other-key")
    for who in (outsider, stranger):
        status, _ = await edit(api, who, one["_id"], rating=1)
        assert status == 404
    assert await services.outbox.count({"kind": "message_updated"}) == 0
    [item, _] = (await history(api, bob, chat_dialog_id=dialog_id))[1]["items"]
    assert "rating" not in item and "edited_at" not in item
    # marks are not edits: bob may still mark alice's message read
    status, _ = await edit(api, bob, one["_id"], read=1, chat_dialog_id=dialog_id)
    assert status == 200


async def test_the_limits_of_a_send(api, small, trio):
    alice, bob, _, dialog_id = trio
    _, sent = await post(api, alice, chat_dialog_id=dialog_id, message="m", keep="k" * 100)
    for body, field in (
            ({"attachments": [{"type": "image"}] * 21}, "attachments"),
            ({"attachments": "image"}, "attachments"),
            ({"attachments": [{"bad key": 1}]}, "attachments"),
            ({"deep": {"a": {"b": {"c": {"d": 1}}}}}, "deep"),
            ({"odd": {"no way": 1}}, "odd"),
            ({"big": "x" * 300}, "base"),  # with `keep`, past the 400 bytes of a send
            ({"attachments": [{"type": "image", "name": "n" * 350}]}, "base"),
            ({"message": "m" * 401}, "message"),
            ({f"k{i}": 1 for i in range(51)}, "base")):
        status, answer = await edit(api, alice, sent["_id"], **body)
        assert status == 422 and field in answer["errors"], (body, answer)
    [item] = (await history(api, bob, chat_dialog_id=dialog_id))[1]["items"]
    assert item["keep"] == "k" * 100 and "edited_at" not in item and item["attachments"] == []
    # removing a key makes room for another
    status, _ = await edit(api, alice, sent["_id"], keep=None, big="x" * 300)
    assert status == 200
    [item] = (await history(api, bob, chat_dialog_id=dialog_id))[1]["items"]
    assert "keep" not in item and item["big"] == "x" * 300
