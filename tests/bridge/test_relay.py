"""REST → XMPP through the outbox relay, in the stanza formats the SDK parses (docs/xmpp.md)."""
from __future__ import annotations

import asyncio

from bridge.relay import CONSUMER
from tests.bridge.conftest import APP_ID, extra, is_message, local, sub
from tests.bridge.test_groupchat import room


async def private_dialog(rest, a, b) -> dict:
    return await rest.dialog(a["token"], [b["id"]], dtype=3)


async def test_rest_message_with_send_to_chat_reaches_every_device(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await private_dialog(rest, a, b)
    bob, bob_tablet = await xmpp(b), await xmpp(b)
    status, sent = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "from rest <&>", "send_to_chat": 1,
        "color": "x", "attachments": [{"type": "image", "uid": "u1"}]})
    assert status == 201
    for client in (bob, bob_tablet):
        [got] = await client.wait_for(lambda s: is_message(s, id=sent["_id"]))
        assert got.get("type") == "chat" and got.get("from") == a["jid"]
        assert sub(got, "body").text == "from rest <&>"
        params = extra(got)
        assert params["dialog_id"] == dialog["_id"] and params["color"] == "x"
        assert params["date_sent"] == str(sent["date_sent"]) and params["save_to_history"] == "1"
        assert params["attachments"] == [{"type": "image", "uid": "u1"}]
    # without send_to_chat nothing goes out
    status, quiet = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "rest only"})
    assert status == 201
    await bob.absent(lambda s: is_message(s, id=quiet["_id"]), wait=0.4)


async def test_offline_recipient_gets_it_at_login(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await private_dialog(rest, a, b)
    status, sent = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "while you were out", "send_to_chat": 1})
    assert status == 201
    for _ in range(100):  # relayed (and stored by Prosody's mod_offline)
        if not await server.call(lambda s: s.outbox.count({"done_by": {"$ne": CONSUMER}})):
            break
        await asyncio.sleep(0.05)
    bob = await xmpp(b)
    [got] = await bob.wait_for(lambda s: is_message(s, id=sent["_id"]))
    assert sub(got, "delay") is not None and sub(got, "body").text == "while you were out"


async def test_rest_group_message_fans_out_from_the_room(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"]])
    alice, bob = await xmpp(a), await xmpp(b)
    status, sent = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "hello group", "send_to_chat": "1"})
    assert status == 201
    for client in (alice, bob):
        [got] = await client.wait_for(lambda s: is_message(s, id=sent["_id"]))
        assert got.get("type") == "groupchat" and got.get("from") == room(dialog["_id"], a["id"])
        assert extra(got)["dialog_id"] == dialog["_id"]


async def test_system_message_is_a_headline(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    bob = await xmpp(b)
    status, result = await rest.call("POST", "/chat/Message/system.json", a["token"], json={
        "recipientId": b["id"], "param1": "v1", "nested": {"k": "v"}})
    assert status == 200
    [got] = await bob.wait_for(lambda s: is_message(s, type="headline"))
    assert got.get("id") == result["messageId"] and got.get("from") == a["jid"]
    params = extra(got)
    assert params["moduleIdentifier"] == "SystemNotifications" and params["param1"] == "v1"


async def test_forced_delete_edit_reactions_and_read_over_rest(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    group = await rest.dialog(a["token"], [b["id"]])
    private = await private_dialog(rest, a, b)
    alice, bob = await xmpp(a), await xmpp(b)
    sent = {}
    for name, dialog in (("group", group), ("private", private)):
        status, sent[name] = await rest.call("POST", "/chat/Message.json", a["token"], json={
            "chat_dialog_id": dialog["_id"], "message": name})
        assert status == 201
    # edit (private): <replace> from alice
    status, _ = await rest.call("PUT", f"/chat/Message/{sent['private']['_id']}.json", a["token"],
                                json={"message": "edited"})
    assert status == 200
    [edit] = await bob.wait_for(lambda s: is_message(s) and sub(s, "replace") is not None)
    assert sub(edit, "replace").get("id") == sent["private"]["_id"]
    assert sub(edit, "body").text == "edited" and edit.get("from") == a["jid"]
    assert extra(edit)["dialog_id"] == private["_id"]
    # reactions (group): from the room JID, user_id = reacting user
    status, _ = await rest.call("PUT", f"/chat/Message/{sent['group']['_id']}/reactions.json",
                                b["token"], json={"add": "👍"})
    assert status == 200
    [react] = await alice.wait_for(lambda s: is_message(s) and sub(s, "reactions") is not None)
    reactions = sub(react, "reactions")
    assert react.get("type") == "groupchat" and react.get("from") == room(group["_id"])
    assert reactions.get("message_id") == sent["group"]["_id"] and reactions.get("user_id") == str(b["id"])
    assert [(local(r.tag), r.get("type"), r.get("add")) for r in reactions] == [("reaction", "👍", "true")]
    # read over REST: <displayed> to the author, 1:1 type chat, with the dialog id
    status, _ = await rest.call("PUT", f"/chat/Message/{sent['group']['_id']}.json", b["token"],
                                json={"read": 1, "chat_dialog_id": group["_id"]})
    assert status == 200
    [read] = await alice.wait_for(lambda s: is_message(s) and sub(s, "displayed") is not None)
    assert read.get("type") == "chat" and read.get("from") == b["jid"]
    assert sub(read, "displayed").get("id") == sent["group"]["_id"]
    assert extra(read)["dialog_id"] == group["_id"]
    # forced delete (group): <remove> from room/deleter
    status, _ = await rest.call("DELETE", f"/chat/Message/{sent['group']['_id']}.json", a["token"],
                                data={"force": "1"})
    assert status == 200
    [removed] = await bob.wait_for(lambda s: is_message(s) and sub(s, "remove") is not None)
    assert sub(removed, "remove").get("id") == sent["group"]["_id"]
    assert removed.get("from") == room(group["_id"], a["id"])
    # deleting only "for me" tells nobody
    status, _ = await rest.call("DELETE", f"/chat/Message/{sent['private']['_id']}.json", a["token"])
    assert status == 200
    await bob.absent(lambda s: is_message(s) and sub(s, "remove") is not None
                     and sub(s, "remove").get("id") == sent["private"]["_id"], wait=0.4)
    # every event was handled by the relay
    pending = await server.call(lambda s: s.outbox.count({"done_by": {"$ne": CONSUMER},
                                                          "app_id": APP_ID, "sender_id": a["id"]}))
    assert pending == 0


async def test_system_message_to_a_group_reaches_each_other_occupant(server, rest, xmpp):
    a, b, c = await rest.new_user(), await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"], c["id"]])
    alice, bob, carol = await xmpp(a), await xmpp(b), await xmpp(c)
    status, result = await rest.call("POST", "/chat/Message/system.json", a["token"], json={
        "chat_dialog_id": dialog["_id"], "notice": "renamed"})
    assert status == 200
    for client in (bob, carol):
        [got] = await client.wait_for(lambda s: is_message(s, type="headline"))
        params = extra(got)
        assert params["notice"] == "renamed" and params["dialog_id"] == dialog["_id"]
        assert got.get("from") == a["jid"]
    await alice.absent(lambda s: is_message(s, type="headline"), wait=0.3)


async def test_confirmations_within_a_moment_share_one_ping(server, rest, xmpp):
    component = server.bridge.component

    async def two_batches(_services):
        written = component.written
        first, second = component.confirm_later(), component.confirm_later()
        shared = first is second and len(component._pings) >= 1
        ok = await component.confirmed(first) and await component.confirmed(second)
        return shared, ok, component.written - written

    shared, ok, writes = await server.call(two_batches)
    assert shared and ok  # Prosody answered the one ping written after both batches
    assert writes == 1

    async def next_batch(_services):  # a later batch gets a ping of its own
        pending = component.confirm_later()
        return await component.confirmed(pending)

    assert await server.call(next_batch)
