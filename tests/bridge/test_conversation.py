"""Conversation events over a real Prosody (issue 15 §3): dialog changes reach every online member
as ConnectyCube system messages (headlines, `moduleIdentifier=SystemNotifications`), removed
members get their own removal, and with `CHAT_DIALOGS__SERVICE_MESSAGES` each is also a stored
service message delivered to the room. Also the relay of edits beyond the body (§7)."""
from __future__ import annotations

import contextlib

from tests.bridge.conftest import extra, is_message, sub
from tests.bridge.test_groupchat import room


def notice(kind: str, dialog_id: str):
    def match(stanza) -> bool:
        params = extra(stanza)
        return (is_message(stanza, type="headline")
                and params.get("moduleIdentifier") == "SystemNotifications"
                and params.get("notification_type") == kind
                and params.get("dialog_id") == dialog_id)
    return match


def is_headline(stanza) -> bool:
    return is_message(stanza, type="headline")


@contextlib.asynccontextmanager
async def service_messages(server, on: bool):
    def flip(value: bool):
        async def set_it(services):
            services.settings.dialogs.service_messages = value
        return set_it
    await server.call(flip(on))
    try:
        yield
    finally:
        await server.call(flip(False))


async def test_members_added_removed_and_leaving(server, rest, xmpp):
    a, b, c, d = [await rest.new_user() for _ in range(4)]
    dialog = await rest.dialog(a["token"], [b["id"], c["id"]])
    dialog_id = dialog["_id"]
    alice, alice_tablet, bob, carol, dave = [await xmpp(u) for u in (a, a, b, c, d)]

    # added: every member, the new one and the actor's own devices
    status, _ = await rest.call("PUT", f"/chat/Dialog/{dialog_id}.json", a["token"],
                                json={"push_all": {"occupants_ids": [d["id"]]}})
    assert status == 200
    ids = set()
    for client in (alice, alice_tablet, bob, carol, dave):
        [got] = await client.wait_for(notice("occupants_added", dialog_id))
        params = extra(got)
        assert got.get("from") == a["jid"] and params["actor_id"] == str(a["id"])
        assert params["user_ids"] == str(d["id"]) and params["dialog_type"] == "2"
        assert int(params["date_sent"]) > 0
        assert sub(got, "body").text == f"{a['login']} added {d['login']}"
        ids.add(got.get("id"))
    assert len(ids) == 1 and len(ids.pop()) == 24  # one id for one event, everywhere

    # removed together with a rename: carol gets her removal, not the new name
    status, _ = await rest.call("PUT", f"/chat/Dialog/{dialog_id}.json", a["token"], json={
        "name": "Secret plans", "pull_all": {"occupants_ids": [c["id"]]}})
    assert status == 200
    for client in (bob, dave, carol, alice_tablet):
        [got] = await client.wait_for(notice("occupants_removed", dialog_id))
        assert extra(got)["user_ids"] == str(c["id"])
    for client in (bob, dave, alice):
        [got] = await client.wait_for(notice("name_changed", dialog_id))
        assert extra(got)["name"] == "Secret plans"
        assert sub(got, "body").text == f"{a['login']} renamed the dialog to \u201cSecret plans\u201d"
    await carol.absent(notice("name_changed", dialog_id), wait=0.3)

    # leaving ("delete for me" of an occupant)
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog_id}.json", b["token"])
    assert status == 200
    for client in (alice, dave, bob):
        [got] = await client.wait_for(notice("occupant_left", dialog_id))
        assert got.get("from") == b["jid"] and extra(got)["user_ids"] == str(b["id"])
    # nothing more reaches carol, who is gone
    await carol.absent(notice("occupant_left", dialog_id), wait=0.3)


async def test_profile_admins_and_deletion(server, rest, xmpp):
    a, b, c = [await rest.new_user() for _ in range(3)]
    dialog = await rest.dialog(a["token"], [b["id"], c["id"]], description="old")
    dialog_id = dialog["_id"]
    bob, carol = await xmpp(b), await xmpp(c)
    status, _ = await rest.call("PUT", f"/chat/Dialog/{dialog_id}.json", b["token"], json={
        "photo": "https://example.com/p.png", "description": None, "name": "room"})
    assert status == 200  # the name is unchanged: not told
    [photo] = await carol.wait_for(notice("photo_changed", dialog_id))
    assert extra(photo)["photo"] == "https://example.com/p.png" and photo.get("from") == b["jid"]
    [described] = await carol.wait_for(notice("description_changed", dialog_id))
    assert "description" not in extra(described)  # removed
    assert sub(described, "body").text == f"{b['login']} removed the description"
    await carol.absent(notice("name_changed", dialog_id), wait=0.2)

    status, _ = await rest.call("PUT", f"/chat/Dialog/{dialog_id}/admins.json", a["token"],
                                json={"push_all": {"admins_ids": [b["id"]]}})
    assert status == 200
    for client in (bob, carol):
        [got] = await client.wait_for(notice("admins_added", dialog_id))
        assert extra(got)["user_ids"] == str(b["id"]) and got.get("from") == a["jid"]
    status, _ = await rest.call("PUT", f"/chat/Dialog/{dialog_id}/admins.json", a["token"],
                                json={"pull_all": {"admins_ids": [b["id"]]}})
    assert status == 200
    [got] = await carol.wait_for(notice("admins_removed", dialog_id))
    assert extra(got)["user_ids"] == str(b["id"])

    status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog_id}.json?force=1", a["token"])
    assert status == 200
    for client in (bob, carol):
        [got] = await client.wait_for(notice("dialog_deleted", dialog_id))
        assert got.get("from") == a["jid"] and "user_ids" not in extra(got)


async def test_service_messages_in_history_when_turned_on(server, rest, xmpp):
    a, b, c = [await rest.new_user() for _ in range(3)]
    dialog = await rest.dialog(a["token"], [b["id"]])
    dialog_id = dialog["_id"]
    bob, carol = await xmpp(b), await xmpp(c)
    # off (the default): told live, nothing stored
    status, _ = await rest.call("PUT", f"/chat/Dialog/{dialog_id}.json", a["token"],
                                json={"name": "quiet"})
    assert status == 200
    await bob.wait_for(notice("name_changed", dialog_id))
    status, page = await rest.call("GET", f"/chat/Message.json?chat_dialog_id={dialog_id}",
                                   b["token"])
    assert status == 200 and page["items"] == []

    async with service_messages(server, True):
        status, _ = await rest.call("PUT", f"/chat/Dialog/{dialog_id}.json", a["token"],
                                    json={"push_all": {"occupants_ids": [c["id"]]}})
        assert status == 200
        [headline] = await carol.wait_for(notice("occupants_added", dialog_id))
        # the stored message has the headline's id and reaches the room like a message
        [live] = await carol.wait_for(lambda s: is_message(s, type="groupchat",
                                                           id=headline.get("id")))
        assert live.get("from") == room(dialog_id, a["id"])
        params = extra(live)
        assert params["notification_type"] == "occupants_added"
        assert params["user_ids"] == str(c["id"]) and params["save_to_history"] == "1"
        assert sub(live, "body").text == sub(headline, "body").text
        status, page = await rest.call("GET", f"/chat/Message.json?chat_dialog_id={dialog_id}",
                                       c["token"])
        [stored] = page["items"]
        assert stored["_id"] == headline.get("id") and stored["sender_id"] == a["id"]
        assert stored["notification_type"] == "occupants_added"
        assert stored["user_ids"] == str(c["id"]) and stored["actor_id"] == str(a["id"])
        assert stored["message"] == f"{a['login']} added {c['login']}"
        status, listed = await rest.call("GET", "/chat/Dialog.json", b["token"])
        [item] = [d for d in listed["items"] if d["_id"] == dialog_id]
        assert item["last_message_id"] == stored["_id"] and item["unread_messages_count"] == 1

        # the user who leaves gets the headline, not the room message about it
        status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog_id}.json", c["token"])
        assert status == 200
        [left] = await bob.wait_for(notice("occupant_left", dialog_id))
        await bob.wait_for(lambda s: is_message(s, type="groupchat", id=left.get("id")))
        await carol.wait_for(notice("occupant_left", dialog_id))
        await carol.absent(lambda s: is_message(s, type="groupchat", id=left.get("id")), wait=0.3)
        status, page = await rest.call("GET", f"/chat/Message.json?chat_dialog_id={dialog_id}",
                                       b["token"])
        assert [m["notification_type"] for m in page["items"]] == ["occupants_added",
                                                                   "occupant_left"]


async def test_an_edit_of_attachments_and_custom_parameters_is_relayed(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"]])
    bob = await xmpp(b)
    status, sent = await rest.call("POST", "/chat/Message.json", a["token"], json={
        "chat_dialog_id": dialog["_id"], "message": "see", "topic": "old"})
    assert status == 201
    status, _ = await rest.call("PUT", f"/chat/Message/{sent['_id']}.json", a["token"], json={
        "attachments": [{"type": "image", "uid": "u9", "size": 5}], "topic": "new", "mood": "ok"})
    assert status == 200
    [edit] = await bob.wait_for(lambda s: is_message(s) and sub(s, "replace") is not None)
    assert sub(edit, "replace").get("id") == sent["_id"] and sub(edit, "replace").get("last") == "true"
    assert edit.get("from") == room(dialog["_id"], a["id"]) and sub(edit, "body").text == "see"
    params = extra(edit)
    assert params["topic"] == "new" and params["mood"] == "ok"
    assert params["dialog_id"] == dialog["_id"] and int(params["edited_at"]) > 0
    assert params["attachments"] == [{"type": "image", "uid": "u9", "size": "5"}]


async def test_a_change_by_the_applications_admin_comes_from_the_service(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    dialog = await rest.dialog(a["token"], [b["id"]])
    bob = await xmpp(b)
    key = (server.settings.data_dir / "admin-api-key").read_text().strip()
    status, body = await rest.call("PUT", f"/admin/chat/{dialog['_id']}", None, json={
        "name": "moderated"}, headers={"CB-Administration-API-Key": key})
    assert status == 200, body
    [got] = await bob.wait_for(notice("name_changed", dialog["_id"]))
    assert got.get("from") == server.settings.xmpp.muc_domain
    assert extra(got)["actor_id"] == "0" and extra(got)["name"] == "moderated"
    assert sub(got, "body").text == "An administrator renamed the dialog to \u201cmoderated\u201d"
