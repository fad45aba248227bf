"""1:1 chat over real Prosody: receipts and edits from Prosody's copies change the store, are
delivered once (by Prosody, never again by the relay); typing is routed, never stored."""
from __future__ import annotations

import asyncio

from tests.bridge.conftest import is_message, new_id, sub


async def private_message(rest, alice, bob, a, b, body="hi") -> tuple[str, str]:
    """Alice → bob, stored; returns (message id, private dialog id) once it is stored."""
    mid = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>{body}</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>')
    await bob.wait_for(lambda s: is_message(s, id=mid))
    for _ in range(200):
        status, dialogs = await rest.call("GET", "/chat/Dialog.json", a["token"])
        private = [d for d in dialogs["items"] if d["type"] == 3 and b["id"] in d["occupants_ids"]]
        if private and private[0]["last_message_id"] == mid:
            return mid, private[0]["_id"]
        await asyncio.sleep(0.02)
    raise AssertionError("message not stored")


async def stored(rest, token, dialog_id, mid) -> dict:
    status, history = await rest.call("GET", "/chat/Message.json", token,
                                      params={"chat_dialog_id": dialog_id, "mark_as_read": 0})
    assert status == 200
    return next(m for m in history["items"] if m["_id"] == mid)


async def eventually(check, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.03)


async def test_receipts_update_the_store_and_arrive_once(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    mid, dialog_id = await private_message(rest, alice, bob, a, b)
    status, unread = await rest.call("GET", "/chat/Message/unread.json", b["token"])
    assert unread["total"] == 1
    for marker in ("received", "displayed"):
        bob.send(f'<message to="{a["jid"]}" type="chat" id="{new_id()}">'
                 f'<{marker} xmlns="urn:xmpp:chat-markers:0" id="{mid}"/>'
                 f'<extraParams xmlns="jabber:client"><dialog_id>{dialog_id}</dialog_id></extraParams></message>')
        [got] = await alice.wait_for(lambda s, m=marker: is_message(s) and sub(s, m) is not None)
        assert sub(got, marker).get("id") == mid and got.get("from") == bob.jid

    async def read():
        message = await stored(rest, a["token"], dialog_id, mid)
        return message if b["id"] in message["read_ids"] else None

    message = await eventually(read)
    assert b["id"] in message["delivered_ids"]
    status, unread = await rest.call("GET", "/chat/Message/unread.json", b["token"])
    assert unread["total"] == 0
    # the relay does not deliver the XMPP receipts a second time
    await alice.absent(lambda s: is_message(s) and sub(s, "displayed") is not None
                       and s.get("from") != bob.jid, wait=0.5)
    assert len([s for s in alice.stanzas if is_message(s) and sub(s, "displayed") is not None]) == 1


async def test_edit_by_author_only(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    mid, dialog_id = await private_message(rest, alice, bob, a, b, body="typo")
    edit = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{edit}"><body>fixed</body>'
               f'<replace xmlns="urn:xmpp:message-correct:0" id="{mid}" last="true"/>'
               f'<extraParams xmlns="jabber:client"><dialog_id>{dialog_id}</dialog_id></extraParams></message>')
    await bob.wait_for(lambda s: is_message(s, id=edit))

    async def edited():
        return (await stored(rest, b["token"], dialog_id, mid))["message"] == "fixed"

    await eventually(edited)
    bob.send(f'<message to="{a["jid"]}" type="chat" id="{new_id()}"><body>hacked</body>'
             f'<replace xmlns="urn:xmpp:message-correct:0" id="{mid}"/></message>')
    await alice.wait_for(lambda s: is_message(s) and sub(s, "body") is not None
                         and sub(s, "body").text == "hacked")  # delivered by Prosody, as sent
    await asyncio.sleep(0.3)
    assert (await stored(rest, a["token"], dialog_id, mid))["message"] == "fixed"
    replaces = [s for s in bob.stanzas if is_message(s) and sub(s, "replace") is not None]
    assert [s.get("id") for s in replaces] == [edit]  # not relayed again from the outbox


async def test_typing_and_delete_notifications_are_routed_not_stored(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    mid, dialog_id = await private_message(rest, alice, bob, a, b)
    alice.send(f'<message to="{b["jid"]}" type="chat"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>')
    await bob.wait_for(lambda s: is_message(s) and sub(s, "composing") is not None)
    remove = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{remove}"><remove xmlns="urn:xmpp:message-delete:0" id="{mid}"/>'
               f'<extraParams xmlns="jabber:client"><dialog_id>{dialog_id}</dialog_id></extraParams></message>')
    await bob.wait_for(lambda s: is_message(s, id=remove))
    await asyncio.sleep(0.2)
    status, history = await rest.call("GET", "/chat/Message.json", b["token"],
                                      params={"chat_dialog_id": dialog_id, "mark_as_read": 0})
    assert [m["_id"] for m in history["items"]] == [mid]  # history changes only through REST


async def test_forged_copy_is_ignored(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice = await xmpp(a)
    mid = new_id()
    alice.send(f'<message to="chat@muc.localhost" id="{new_id()}"><forwarded xmlns="urn:xmpp:forward:0">'
               f'<message xmlns="jabber:client" from="{b["jid"]}/x" to="{a["jid"]}" type="chat" id="{mid}">'
               '<body>forged</body><extraParams><save_to_history>1</save_to_history></extraParams></message>'
               "</forwarded></message>")
    await asyncio.sleep(0.4)
    status, dialogs = await rest.call("GET", "/chat/Dialog.json", a["token"])
    assert [d for d in dialogs["items"] if d["type"] == 3] == []


async def test_a_deleted_private_dialog_is_created_again(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    first, dialog_id = await private_message(rest, alice, bob, a, b, body="one")
    status, _ = await rest.call("DELETE", f"/chat/Dialog/{dialog_id}.json", a["token"], data={"force": "1"})
    assert status == 200
    second, again = await private_message(rest, alice, bob, a, b, body="two")
    assert again != dialog_id
    status, history = await rest.call("GET", "/chat/Message.json", b["token"],
                                      params={"chat_dialog_id": again, "mark_as_read": 0})
    assert [m["_id"] for m in history["items"]] == [second]


async def test_the_pair_decides_the_dialog_not_the_client(server, rest, xmpp):
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    first, dialog_id = await private_message(rest, alice, bob, a, b, body="one")
    group = await rest.dialog(a["token"], [b["id"]])
    mid = new_id()
    alice.send(f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>two</body>'
               '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history>'
               f'<dialog_id>{group["_id"]}</dialog_id></extraParams></message>')

    async def in_private():
        status, history = await rest.call("GET", "/chat/Message.json", b["token"],
                                          params={"chat_dialog_id": dialog_id, "mark_as_read": 0})
        return [m["_id"] for m in history["items"]] == [first, mid]
    await eventually(in_private)
    status, history = await rest.call("GET", "/chat/Message.json", b["token"],
                                      params={"chat_dialog_id": group["_id"], "mark_as_read": 0})
    assert status == 200 and history["items"] == []


async def test_a_burst_beyond_the_queue_limit_pauses_reading_and_loses_nothing(server, rest, xmpp):
    """Copies arriving faster than they are stored stop the component reading (Prosody keeps
    them) instead of being dropped: every message of the burst is stored once, in order."""
    a, b = await rest.new_user(), await rest.new_user()
    alice, bob = await xmpp(a), await xmpp(b)
    plugin = server.bridge.component.plugin["cc_private"]
    settings = server.bridge.state.settings
    limit, pauses = settings.max_pending_stanzas, plugin.pauses
    await server.call_sync(lambda: setattr(settings, "max_pending_stanzas", 10))
    try:
        ids = [new_id() for _ in range(300)]
        alice.send("".join(
            f'<message to="{b["jid"]}" type="chat" id="{mid}"><body>burst {n}</body>'
            '<extraParams xmlns="jabber:client"><save_to_history>1</save_to_history></extraParams></message>'
            for n, mid in enumerate(ids)))
        await bob.wait_for(lambda s: is_message(s, id=ids[-1]), timeout=20)

        async def all_stored():
            status, dialogs = await rest.call("GET", "/chat/Dialog.json", b["token"])
            private = [d for d in dialogs["items"] if d["type"] == 3 and a["id"] in d["occupants_ids"]]
            return private[0] if private and private[0]["last_message_id"] == ids[-1] else None

        dialog = await eventually(all_stored, timeout=20)
    finally:
        await server.call_sync(lambda: setattr(settings, "max_pending_stanzas", limit))
    assert plugin.pauses > pauses
    got: list[str] = []
    for skip in range(0, 400, 100):
        status, page = await rest.call("GET", "/chat/Message.json", b["token"], params={
            "chat_dialog_id": dialog["_id"], "mark_as_read": 0, "limit": 100, "skip": skip,
            "sort_asc": "date_sent"})
        got += [m["_id"] for m in page["items"]]
    assert got == ids
    status, unread = await rest.call("GET", "/chat/Message/unread.json", b["token"])
    assert unread["total"] == len(ids)
